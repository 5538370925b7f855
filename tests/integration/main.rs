//! Integration tests: the real application over HTTP, signed the way the marketplace signs
//! (see `market`), plus the binary for the crash test and the command line.

mod answer;
mod api;
mod api_actions;
mod api_lookup;
mod attacks;
mod auth;
mod binary;
mod calls;
mod cli;
mod console;
mod durability;
mod endpoints;
mod errors;
mod get_license;
mod ha;
mod helpers;
mod keys;
mod lifecycle;
mod market;
mod migrate;
mod ops_access;
mod ops_backup;
mod ops_delisting;
mod ops_fail_stop;
mod ops_observe;
mod ops_read_fault;
mod post;
mod replays;
mod scale;
mod seats;
mod support;
