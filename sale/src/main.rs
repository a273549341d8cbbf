//! `sale`: runs the sale service (see `sale --help` for settings).

runtime::service_main!(sale::App, sale::Config);
