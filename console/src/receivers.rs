//! The live session's background tasks: each reads one channel from the
//! customer (screen, pointer, control, chat, clipboard) or watches the link,
//! and updates the shared [`View`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tether_protocol::channel::clipboard::Clip;
use tether_protocol::channel::control::{self, Consent};
use tether_protocol::channel::{chat, cursor, screen};
use tether_protocol::codec::TileKind;
use tether_protocol::signal::SessionReport;
use tether_transport::peer::{self, ChannelRecv, ChannelSend};
use tokio::sync::{mpsc, watch};
use tracing::warn;

use crate::link::{LinkChange, LinkWatch};
use crate::session::{ChatAuthor, ChatLine, View, lock, push_chat};

pub(crate) async fn receive_screen(
    mut recv: ChannelRecv<screen::AgentToConsole>,
    mut acks: ChannelSend<screen::ConsoleToAgent>,
    view: Arc<Mutex<View>>,
    conn: quinn::Connection,
) {
    loop {
        let frame = match recv.recv().await {
            Ok(Some(screen::AgentToConsole::Frame(f))) => f,
            Ok(None) => return,
            Err(e) => {
                warn!("screen channel failed: {e}");
                conn.close(peer::CLOSE_PROTOCOL.into(), b"bad screen data");
                return;
            }
        };
        let seq = frame.seq;
        let result = {
            let mut v = lock(&view);
            let r = v.decoder.apply(&frame);
            v.first_frame.get_or_insert_with(std::time::SystemTime::now);
            v.frames += 1;
            v.bytes += frame.stream.len() as u64;
            v.copies += frame.copies.len() as u64;
            v.lossy += frame.tiles.iter().filter(|t| t.kind == TileKind::Jpeg).count() as u64;
            v.last_frame = Some(Instant::now());
            r
        };
        if let Err(e) = result {
            warn!("could not decode a frame: {e}");
            conn.close(peer::CLOSE_PROTOCOL.into(), b"bad frame");
            return;
        }
        if acks.send(&screen::ConsoleToAgent::Ack { seq }).await.is_err() {
            return;
        }
    }
}

pub(crate) async fn receive_cursor(mut recv: ChannelRecv<cursor::AgentToConsole>, view: Arc<Mutex<View>>) {
    loop {
        let msg = match recv.recv().await {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(e) => {
                warn!("cursor channel failed: {e}");
                return;
            }
        };
        let mut v = lock(&view);
        match msg {
            cursor::AgentToConsole::Position { x, y } => v.pointer.at = Some((x, y)),
            cursor::AgentToConsole::Shape(shape) => match shape.check() {
                Ok(()) => v.pointer.shape = Some(shape),
                Err(e) => {
                    warn!("ignored the customer's pointer: {e}");
                    continue;
                }
            },
        }
        v.pointer.version += 1;
    }
}

pub(crate) async fn receive_control(
    mut recv: ChannelRecv<control::AgentToConsole>,
    consent: watch::Sender<Consent>,
    view: Arc<Mutex<View>>,
) {
    while let Ok(Some(msg)) = recv.recv().await {
        match msg {
            control::AgentToConsole::Hello { width, height } => lock(&view).screen = (width, height),
            control::AgentToConsole::Monitors { mut list, active } => {
                list.truncate(control::MAX_MONITORS);
                let names: Vec<String> = list
                    .iter()
                    .map(|m| {
                        let star = if m.id == active { "*" } else { "" };
                        format!("{star}{} {} {}x{}{:+}{:+}", m.id, m.name, m.width, m.height, m.x, m.y)
                    })
                    .collect();
                println!("monitors: {}", names.join(", "));
                lock(&view).monitors = (list, active);
            }
            control::AgentToConsole::Consent(c) => {
                println!("consent: view={} control={}", c.view, c.control);
                consent.send_replace(c);
            }
            control::AgentToConsole::Ended { reason } => {
                println!("the customer ended the session: {reason}");
                lock(&view).ended = Some(reason);
            }
        }
    }
}

/// Marks the view stalled while the customer's link is silent, until the
/// connection closes.
pub(crate) async fn watch_link(conn: quinn::Connection, view: Arc<Mutex<View>>) {
    let mut watch = LinkWatch::new(conn.stats().udp_rx.datagrams, Instant::now());
    let mut every = tokio::time::interval(Duration::from_millis(250));
    while conn.close_reason().is_none() {
        every.tick().await;
        match watch.observe(conn.stats().udp_rx.datagrams, Instant::now()) {
            Some(LinkChange::Stalled) => println!("link: reconnecting"),
            Some(LinkChange::Restored) => println!("link: restored"),
            None => continue,
        }
        lock(&view).stalled = watch.is_stalled();
    }
}

pub(crate) async fn receive_clipboard(mut recv: ChannelRecv<Clip>, view: Arc<Mutex<View>>) {
    loop {
        let clip = match recv.recv().await {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                warn!("clipboard channel failed: {e}");
                return;
            }
        };
        if let Err(e) = clip.check() {
            warn!("ignored the customer's clipboard: {e}");
            continue;
        }
        match &clip {
            Clip::Text(t) => println!("clipboard: text from the customer: {}", t.escape_debug()),
            Clip::Image { width, height, .. } => {
                println!("clipboard: a {width}×{height} image from the customer")
            }
        }
        let mut v = lock(&view);
        v.clipboard.0 = Some(clip);
        v.clipboard.1 += 1;
    }
}

pub(crate) async fn receive_chat(
    mut recv: ChannelRecv<chat::AgentToConsole>,
    send: Arc<tokio::sync::Mutex<ChannelSend<chat::ConsoleToAgent>>>,
    view: Arc<Mutex<View>>,
    reports: mpsc::UnboundedSender<SessionReport>,
) {
    while let Ok(Some(msg)) = recv.recv().await {
        match msg {
            chat::AgentToConsole::Message(m) => {
                if m.text.len() > chat::MAX_CHAT_BYTES {
                    warn!("dropped an over-long chat message from the customer");
                    continue;
                }
                println!("customer: {}", m.text);
                let _ = reports.send(SessionReport::Chat { from_customer: true, text: m.text.clone() });
                let line = ChatLine { author: ChatAuthor::Customer, text: m.text, id: m.id, delivered: None };
                push_chat(&view, line);
                if send.lock().await.send(&chat::ConsoleToAgent::Receipt { id: m.id }).await.is_err() {
                    return;
                }
            }
            chat::AgentToConsole::Receipt { id } => {
                let mut v = lock(&view);
                let Some(sent) = v.sent_at.remove(&id) else { continue };
                let took = sent.elapsed();
                println!("chat: delivered #{id} in {:.1} ms", took.as_secs_f64() * 1000.0);
                if let Some(line) =
                    v.chat.iter_mut().rev().find(|l| l.author == ChatAuthor::Technician && l.id == id)
                {
                    line.delivered = Some(took);
                }
            }
        }
    }
}
