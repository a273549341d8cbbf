//! `queue`: runs the waiting-room service (see `queue --help` for settings).

/// mimalloc, as in the sale (`sale/src/main.rs`): a join allocates for its
/// upgrade, its frames and its Redis calls, and glibc's malloc is slow at
/// the sizes hyper and the WebSocket buffers ask for.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

runtime::service_main!(queue::App, queue::Config);
