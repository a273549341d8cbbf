//! `queue`: runs the waiting-room service (see `queue --help` for settings).

runtime::service_main!(queue::App, queue::Config);
