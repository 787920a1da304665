//! `deploy/bench/readme-table.sh`, which `deploy/bench/run.sh` runs after a full benchmark so
//! that the README shows the latest table: it copies the results file's machine line and table
//! between the README's markers, changes nothing else, and refuses (leaving the README as it
//! was) when the markers or the table are missing. Needs no broker or database.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RESULTS: &str = "\
# scimsync benchmark results

Written by `make bench`.

Measured 2026-12-03 on 2 CPUs, build abc1234: everything on this machine.

| Figure | Goal | Median |
|---|---|---|
| End-to-end rate | >= 4,000/s | 1,175/s |

## Notes

- 10,000 users: ratio of the medians 0.97.

## Runs

```
Measured 2026-12-03 on 2 CPUs, build abc1234: the runs' own copy of the machine line.
| not | a table row of the summary |
```
";

const README_BEFORE: &str = "\
# project

## Benchmarks

Intro.

<!-- bench table: start -->

An older table.

<!-- bench table: end -->

What the table means.
";

const README_AFTER: &str = "\
# project

## Benchmarks

Intro.

<!-- bench table: start -->

Measured 2026-12-03 on 2 CPUs, build abc1234: everything on this machine.

| Figure | Goal | Median |
|---|---|---|
| End-to-end rate | >= 4,000/s | 1,175/s |

<!-- bench table: end -->

What the table means.
";

/// A folder of its own under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scimsync-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn copy_table(results: &Path, readme: &Path) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/bench/readme-table.sh");
    Command::new("bash")
        .arg(script)
        .arg(results)
        .arg(readme)
        .output()
        .expect("run readme-table.sh")
}

#[test]
fn the_readme_gets_the_machine_line_and_table_between_its_markers_and_nothing_else() {
    let dir = scratch("bench-readme");
    let (results, readme) = (dir.join("results.md"), dir.join("README.md"));
    fs::write(&results, RESULTS).unwrap();
    fs::write(&readme, README_BEFORE).unwrap();
    fs::set_permissions(&readme, fs::Permissions::from_mode(0o644)).unwrap();

    let out = copy_table(&results, &readme);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fs::read_to_string(&readme).unwrap(), README_AFTER);
    let mode = fs::metadata(&readme).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "the README keeps its mode: {mode:o}");

    // A second copy of the same results changes nothing.
    let out = copy_table(&results, &readme);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fs::read_to_string(&readme).unwrap(), README_AFTER);
    fs::remove_dir_all(&dir).unwrap();
}

/// Runs the copy on these contents and expects it refused, saying `why`, with the README as
/// it was.
fn assert_refused(dir: &Path, results_text: &str, readme_text: &str, why: &str) {
    let (results, readme) = (dir.join("results.md"), dir.join("README.md"));
    fs::write(&results, results_text).unwrap();
    fs::write(&readme, readme_text).unwrap();
    let out = copy_table(&results, &readme);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(why),
        "{out:?}"
    );
    assert_eq!(fs::read_to_string(&readme).unwrap(), readme_text);
}

#[test]
fn a_readme_without_markers_or_results_without_a_table_are_refused_and_left_alone() {
    let dir = scratch("bench-readme-refused");
    let unmarked = "# project\n\nNo markers here.\n";
    assert_refused(&dir, RESULTS, unmarked, "<!-- bench table: start -->");
    let cut_short = "# scimsync benchmark results\n\nThe run was cut short.\n";
    assert_refused(&dir, cut_short, README_BEFORE, "no machine line and table");
    fs::remove_dir_all(&dir).unwrap();
}
