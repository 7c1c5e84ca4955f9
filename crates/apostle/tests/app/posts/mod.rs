//! Posts end to end: composing, planning in each member's time zone,
//! delivery to the inbox and by email, one-click links, page approvals; on
//! the real app over HTTP, and on the services with a test clock where time
//! matters.

mod api;
mod approvals;
mod browser;
mod delivery;
mod inbox;
pub(crate) mod links;
mod web;
