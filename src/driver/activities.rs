//! The Raw Activity Data run (issue 3): jobs, polling, fragments in parallel.
