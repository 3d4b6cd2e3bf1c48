//! The console's screens; each owns its `Message`, `update` and `view`, and
//! reports what the app must do as an `Event`.

pub mod admin;
pub mod browser;
pub mod dashboard;
pub mod login;
pub mod reports;
pub mod session;
