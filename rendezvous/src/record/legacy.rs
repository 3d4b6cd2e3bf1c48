//! Session records as older servers wrote them, read into today's. New
//! fields go at the end, so an old record is a strict prefix of a new one
//! and never decodes as one by accident.

use serde::Deserialize;
#[cfg(test)]
use serde::Serialize;
use tether_protocol::signal::{CandidateKind, PathKind};

use super::{ChatLine, ConsentEvent, FileMoved, Outcome, SessionRecord};

/// A record as servers before desks, notes and surveys wrote it.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(super) struct SessionRecordV3 {
    pub(super) id: u64,
    pub(super) technician: String,
    pub(super) nameplate: u32,
    pub(super) started: u64,
    pub(super) ended: Option<u64>,
    pub(super) path: Option<PathKind>,
    pub(super) bytes: u64,
    pub(super) consent: Vec<ConsentEvent>,
    pub(super) outcome: Outcome,
    pub(super) technician_end: Option<CandidateKind>,
    pub(super) customer_end: Option<CandidateKind>,
    pub(super) chat: Vec<ChatLine>,
    pub(super) files: Vec<FileMoved>,
}

impl From<SessionRecordV3> for SessionRecord {
    fn from(v: SessionRecordV3) -> Self {
        let SessionRecordV3 {
            id,
            technician,
            nameplate,
            started,
            ended,
            path,
            bytes,
            consent,
            outcome,
            technician_end,
            customer_end,
            chat,
            files,
        } = v;
        Self {
            id,
            technician,
            nameplate,
            started,
            ended,
            path,
            bytes,
            consent,
            outcome,
            technician_end,
            customer_end,
            chat,
            files,
            request: None,
            notes: Vec::new(),
            survey: None,
        }
    }
}

/// A record as servers before chat and files were kept wrote it.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(super) struct SessionRecordV2 {
    pub(super) id: u64,
    pub(super) technician: String,
    pub(super) nameplate: u32,
    pub(super) started: u64,
    pub(super) ended: Option<u64>,
    pub(super) path: Option<PathKind>,
    pub(super) bytes: u64,
    pub(super) consent: Vec<ConsentEvent>,
    pub(super) outcome: Outcome,
    pub(super) technician_end: Option<CandidateKind>,
    pub(super) customer_end: Option<CandidateKind>,
}

impl From<SessionRecordV2> for SessionRecord {
    fn from(v: SessionRecordV2) -> Self {
        let SessionRecordV2 {
            id,
            technician,
            nameplate,
            started,
            ended,
            path,
            bytes,
            consent,
            outcome,
            technician_end,
            customer_end,
        } = v;
        SessionRecordV3 {
            id,
            technician,
            nameplate,
            started,
            ended,
            path,
            bytes,
            consent,
            outcome,
            technician_end,
            customer_end,
            chat: Vec::new(),
            files: Vec::new(),
        }
        .into()
    }
}

/// A record as servers before the path's ends were kept wrote it. New
/// fields go at the end, so an old record is a strict prefix of a new one
/// and never decodes as one by accident.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(super) struct SessionRecordV1 {
    pub(super) id: u64,
    pub(super) technician: String,
    pub(super) nameplate: u32,
    pub(super) started: u64,
    pub(super) ended: Option<u64>,
    pub(super) path: Option<PathKind>,
    pub(super) bytes: u64,
    pub(super) consent: Vec<ConsentEvent>,
    pub(super) outcome: Outcome,
}

impl From<SessionRecordV1> for SessionRecord {
    fn from(v: SessionRecordV1) -> Self {
        let SessionRecordV1 { id, technician, nameplate, started, ended, path, bytes, consent, outcome } = v;
        let (technician_end, customer_end) = (None, None);
        SessionRecordV2 {
            id,
            technician,
            nameplate,
            started,
            ended,
            path,
            bytes,
            consent,
            outcome,
            technician_end,
            customer_end,
        }
        .into()
    }
}
