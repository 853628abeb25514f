//! One integration-test binary (each extra binary would link the whole tree again).

mod access;
mod audit;
mod backup;
mod bad_input;
mod browser;
mod concurrency;
mod contract;
mod demo_office;
mod deploy;
mod documents;
mod draw;
mod exchange;
mod helpers;
mod instances;
mod legal_time;
mod lifecycle;
mod lists;
mod mail;
mod migrations;
mod observability;
mod pages;
mod replica;
mod reports;
mod service;
mod vocabulary;
mod window;
