//! `venom merge`: the JSON reports of the parts of a sharded run as one report.

use crate::args::MergeArgs;
use crate::failure::Failure;

/// Runs `venom merge`.
pub fn command(args: &MergeArgs) -> Result<i32, Failure> {
    let reports = args
        .reports
        .iter()
        .map(|path| venom_report::read_json(path).map_err(Failure::invalid_from))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = venom_report::merge(reports).map_err(Failure::invalid_from)?;
    venom_report::write_json(&merged, &args.output)
        .map_err(|e| Failure::write("JSON report", &args.output, e))?;
    print!(
        "{}",
        venom_report::render_console(&merged, args.fail_on, Some(&args.output))
    );
    Ok(venom_report::exit_code(&merged, args.fail_on))
}
