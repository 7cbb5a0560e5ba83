pub mod autoscaling;
pub mod hooks;
pub mod login;
pub mod logs;
pub mod operations;
pub mod revisions;
pub mod server;
pub mod service;
