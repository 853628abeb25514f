//! One integration-test binary (each extra binary would link the whole tree again).

mod helpers;
mod legal_time;
mod lifecycle;
mod service;
