// The command line parses index.json and the sidecar into hundreds of thousands of small
// allocations; mimalloc makes loading and dropping them markedly cheaper than glibc's
// allocator (docs/SCALE.md). The library leaves the allocator to its embedder.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    wharf::cli::main()
}
