//! One integration-test binary (each extra binary would link the whole tree again).

mod access;
mod audit;
mod bad_input;
mod browser;
mod concurrency;
mod demo_office;
mod documents;
mod draw;
mod exchange;
mod faults;
mod helpers;
mod instances;
mod legal_time;
mod lifecycle;
mod lists;
mod mail;
mod migrations;
mod pages;
mod reports;
mod service;
mod vocabulary;
mod window;
