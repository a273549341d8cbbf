//! `sale`: runs the sale service (see `sale --help` for settings).

/// mimalloc: an order allocates about 140 times (hyper's 8 KiB read
/// buffer, the Redis command and reply, JSON, sqlx's rows), and glibc's
/// malloc spent a fifth of the sale's instructions on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

runtime::service_main!(sale::App, sale::Config);
