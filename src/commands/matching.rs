//! `match A B`: do two networks learn the same neurons?

use anyhow::Result;

use super::cli::{MatchArgs, flag_scaling};
use super::progress::Progress;
use crate::app::import::DataChoice;
use crate::app::matching::{MatchOptions, default_match_dir, match_networks};
use crate::render::report::three_places;

/// Matches A with B and prints each layer's figures.
pub fn command(args: &MatchArgs) -> Result<()> {
    let mut progress = Progress::new();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_match_dir(&args.a, &args.b));
    let result = match_networks(
        &MatchOptions {
            a: &args.a,
            b: &args.b,
            out: &out,
            init: [args.init_a.as_deref(), args.init_b.as_deref()],
            activation: args.activation,
            input_scaling: flag_scaling(args.input_mean.as_deref(), args.input_std.as_deref())?,
            data: DataChoice {
                dir: args.data.clone(),
                train_limit: 0,
                probe_index: 1,
            },
        },
        &mut progress,
    )?;
    for layer in &result.layers {
        let init = layer.init.as_ref().map_or_else(String::new, |i| {
            format!(
                " (initial {}, CKA {})",
                three_places(i.weight_cos.mean),
                three_places(i.cka)
            )
        });
        println!(
            "layer {}: weight cosine {}, CKA {}{init}",
            layer.layer,
            three_places(layer.weight_cos.mean),
            three_places(layer.cka)
        );
    }
    Ok(())
}
