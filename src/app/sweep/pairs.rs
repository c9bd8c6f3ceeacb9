//! The sweep summary's seed-pair rows: every two seeds of a group matched neuron by neuron, as
//! `match` does, trained and initial (do different random starts learn the same neurons?).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use crate::analysis::matching::{LayerComparison, MatchSide, MeanMedian, compare_networks};
use crate::analysis::summary::{CellState, Figure, Group, Stat, Summary};
use crate::app::finished::FinishedRun;
use crate::core::weights::LayerWeights;

/// Adds the seed-pair rows to every group with at least two finished seeds.
pub(crate) fn add_seed_pairs(summary: &mut Summary, states: &[CellState]) -> Result<()> {
    let cells = summary.cells.clone();
    for group in &mut summary.groups {
        let dirs: Vec<&Path> = cells
            .iter()
            .zip(states)
            .filter(|(c, s)| {
                matches!(s, CellState::Done(_))
                    && (&c.dataset, &c.model, &c.optimizer)
                        == (&group.dataset, &group.model, &group.optimizer)
            })
            .map(|(c, _)| c.dir.as_path())
            .collect();
        if dirs.len() >= 2 {
            add_group_pairs(group, &dirs)?;
        }
    }
    Ok(())
}

fn add_group_pairs(group: &mut Group, dirs: &[&Path]) -> Result<()> {
    let runs = dirs
        .iter()
        .map(|d| FinishedRun::open(d))
        .collect::<Result<Vec<_>>>()?;
    // The runs of a group differ only by seed: one data set, one scaling, one activation.
    let test = runs[0].data()?.test;
    let activation = runs[0].config.model.activation;
    let networks: Vec<[Vec<LayerWeights>; 2]> = runs
        .iter()
        .map(|r| Ok([r.snapshot(0)?, r.trained()?]))
        .collect::<Result<_>>()?;
    let side = |layers| MatchSide {
        layers,
        activation,
        test: &test,
    };
    let mut values: BTreeMap<Figure, Vec<f64>> = BTreeMap::new();
    for i in 0..networks.len() {
        for j in i + 1..networks.len() {
            let [init_i, trained_i] = &networks[i];
            let [init_j, trained_j] = &networks[j];
            let trained = compare_networks(side(trained_i), side(trained_j));
            let init = compare_networks(side(init_i), side(init_j));
            for (figure, v) in pair_figures(&trained, false)
                .into_iter()
                .chain(pair_figures(&init, true))
            {
                values.entry(figure).or_default().push(v);
            }
        }
    }
    group.figures.extend(
        values
            .into_iter()
            .filter_map(|(f, v)| Some((f, Stat::of(&v)?))),
    );
    Ok(())
}

/// One pair's figures: the first hidden layer's (where there is one) and the output layer's.
fn pair_figures(layers: &[LayerComparison], init: bool) -> Vec<(Figure, f64)> {
    let pick = |trained: Figure, initial: Figure| if init { initial } else { trained };
    let output = layers.last().expect("a network has a layer");
    let mut out = vec![
        (
            pick(Figure::SeedsCosOutput, Figure::SeedsCosOutputInit),
            MeanMedian::of(&output.weight_scores()).mean,
        ),
        (
            pick(Figure::SeedsCkaOutput, Figure::SeedsCkaOutputInit),
            output.cka,
        ),
    ];
    if layers.len() > 1 {
        let first = &layers[0];
        out.push((
            pick(Figure::SeedsCosFirst, Figure::SeedsCosFirstInit),
            MeanMedian::of(&first.weight_scores()).mean,
        ));
        if let Some(corr) = first.activation_scores() {
            out.push((
                pick(Figure::SeedsCorrFirst, Figure::SeedsCorrFirstInit),
                MeanMedian::of(&corr).mean,
            ));
        }
        out.push((
            pick(Figure::SeedsCkaFirst, Figure::SeedsCkaFirstInit),
            first.cka,
        ));
    }
    out
}
