//! Connections: members' logins at the providers (grants) and what they post as
//! through them (accounts), kept healthy (design.md §1–§3).

pub mod places;
