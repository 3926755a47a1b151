//! The build-system staging flow, through the library: a build drops a tarball; CI
//! imports it under a build tag, verifies every byte, promotes it by tagging, drops the
//! build tag and collects what nothing needs any more.
//!
//! ```sh
//! cargo run --example staging -- /tmp/stage-registry testdata/hello.docker-archive.tar
//! ```

use std::process::ExitCode;

use wharf::{GcOptions, ImportOptions, Registry, TagOptions, VerifyOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, tarball] = args.as_slice() else {
        eprintln!("usage: staging REGISTRY_DIR TARBALL");
        return ExitCode::from(2);
    };
    match stage(root, tarball) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn stage(root: &str, tarball: &str) -> wharf::Result<bool> {
    let reg =
        if std::path::Path::new(root).join(".wharf").is_dir() { Registry::open(root)? } else { Registry::init(root)? };

    // 1. Import under a build tag; nothing changes unless the whole tarball is accepted.
    let build: wharf::Reference = "staging/app:build-1".parse()?;
    let opts = ImportOptions {
        repo: Some(build.repo.clone()),
        tags: vec!["build-1".parse()?],
        force: true,
        ..Default::default()
    };
    let imported = reg.import(tarball, &opts)?;
    println!("imported {} as {build}", imported.images[0].digest);

    // 2. Verify what was staged: every blob hashed, every descriptor followed.
    let report = reg.verify(&VerifyOptions { targets: vec![build.to_string()], ..Default::default() })?;
    if !report.is_clean() {
        for f in &report.findings {
            eprintln!("finding: {f:?}");
        }
        return Ok(false);
    }

    // 3. Promote: the release tag points at the verified manifest; the build tag goes.
    reg.tag(&build, &"staging/app:release".parse()?, &TagOptions { force: true })?;
    reg.untag(&build)?;

    // 4. Collect blobs nothing references any more (the default grace spares fresh ones).
    let gc = reg.gc(&GcOptions::default())?;
    println!("promoted to staging/app:release; gc freed {} bytes from the pool", gc.pool_bytes);
    Ok(true)
}
