//! The analysis of a network, trained here or imported, written as a run writes it:
//! `analysis.json`, the figures, the explorer page where asked, the TensorFlow comparison where
//! it applies, and the report, last.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;

use super::compare::{InHand, write_comparison};
use super::explore::{write_explorer, write_page_of_views};
use super::feedback::Feedback;
use super::finished::FinishedRun;
use crate::analysis::alongside::EarlyReadings;
use crate::analysis::pass::{Analysed, analyze_with};
use crate::analysis::results::{Analysis, AnalysisInputs, Snapshot, initial_and_trained};
use crate::analysis::span::MAX_SPAN_IMAGES;
use crate::core::data::RunData;
use crate::core::provenance::Provenance;
use crate::interop::encode_pixel_templates;
use crate::render::figures::{FigureInputs, draw_all};
use crate::render::report::write_run_report;
use crate::store::{
    ANALYSIS_FILE, EXPLORE_FILE, FIGURES_DIR, PIXEL_TEMPLATES_FILE, REPORT_FILE, RunDir,
};
use crate::tensorflow::compare::Comparison;
use crate::tensorflow::neurons::Weights;
use crate::tensorflow::{REFERENCE_DIR, RESULTS_DIR};

/// A network ready to be analysed: its folder, where it came from, its data and its snapshots
/// (initial first where known, trained last).
pub(crate) struct Subject<'a> {
    pub dir: &'a RunDir,
    pub provenance: Provenance<'a>,
    pub data: &'a RunData,
    pub snapshots: &'a [Snapshot],
}

/// Re-analyses a finished run from the weights it saved, rewriting its analysis, figures,
/// explorer and report.
pub fn analyze_run(path: &Path, feedback: &mut dyn Feedback) -> Result<Analysis> {
    let run = FinishedRun::open(path)?;
    let data = run.data()?;
    let snapshots = run.snapshots()?;
    write_analysis(
        &Subject {
            dir: &run.dir,
            provenance: run.provenance(),
            data: &data,
            snapshots: &snapshots,
        },
        true,
        EarlyReadings::none(),
        feedback,
    )
}

/// Analyses `subject` and writes its results; `explorer` asks for its explorer page too.
/// `early` holds the readings of snapshots taken while the network trained.
pub(crate) fn write_analysis<'a>(
    subject: &Subject<'a>,
    explorer: bool,
    early: EarlyReadings<'a>,
    feedback: &mut dyn Feedback,
) -> Result<Analysis> {
    let Subject {
        dir,
        provenance,
        data,
        snapshots,
    } = *subject;
    let started = Instant::now();
    // The span test needs the images trained on, known only for a run trained here; they are
    // copied only where it will use them.
    let trained_on = match provenance {
        Provenance::Trained { .. } if data.train_len() <= MAX_SPAN_IMAGES => Some(data.split().0),
        _ => None,
    };
    let read_early = early.epochs().len();
    let Analysed {
        analysis,
        pixel_templates,
        explorer: views,
    } = analyze_with(
        &AnalysisInputs {
            activation: provenance.activation(),
            train: &data.full_train,
            test: &data.test,
            probe_index: provenance.probe_index(),
            snapshots,
            trained_on: trained_on.as_ref(),
            explorer,
        },
        early,
    );
    dir.write_json(ANALYSIS_FILE, &analysis)?;
    dir.write(
        PIXEL_TEMPLATES_FILE,
        &encode_pixel_templates(
            &pixel_templates.trained,
            pixel_templates.init.as_deref(),
            provenance.activation(),
        )?,
    )?;
    let (init, trained) = initial_and_trained(snapshots);
    let figures = dir.subdir(FIGURES_DIR)?;
    let figure_inputs = FigureInputs {
        analysis: &analysis,
        provenance,
        trained: &trained.layers,
        init: init.map(|s| s.layers.as_slice()),
        pixel_templates: &pixel_templates,
        train: &data.full_train,
        test: &data.test,
        class_names: &data.class_names,
    };
    let page = dir.file(EXPLORE_FILE);
    // Drawing the figures, packing the page and comparing with TensorFlow are independent and
    // each mostly on one core: side by side. Only the page's line is held back, so the
    // messages keep their order.
    let (files, page_line, comparison) = std::thread::scope(|scope| {
        let packing = views.filter(|_| explorer).map(|views| {
            scope.spawn(|| write_page_of_views(&page, &provenance, data, snapshots, views))
        });
        let comparing = scope.spawn(|| {
            tensorflow_comparison(
                dir,
                &provenance,
                &analysis,
                // Only a training run is compared, and its first snapshot is its initial
                // weights.
                InHand {
                    weights: Weights {
                        trained: &trained.layers,
                        init: &snapshots[0].layers,
                    },
                    test: &data.test,
                },
            )
        });
        let files = draw_all(&figure_inputs, &figures);
        let page_line = packing.map(|p| p.join().expect("packing the page does not panic"));
        let comparison = comparing.join().expect("comparing does not panic");
        (files, page_line, comparison)
    });
    let files = files?;
    // The snapshots read while training ran cost the training time they shared, not this.
    let during = match read_early {
        0 => String::new(),
        n => format!(
            " ({n} of {} snapshots read while training)",
            snapshots.len()
        ),
    };
    feedback.message(&format!(
        "analysis: {} in {:.1}s{during}, {} figure files in {}",
        dir.file(ANALYSIS_FILE).display(),
        started.elapsed().as_secs_f64(),
        files.len(),
        figures.display(),
    ));
    let comparison = comparison?;
    match page_line {
        Some(line) => feedback.message(&line?),
        // A deeper network's page searches on its own.
        None if explorer => write_explorer(&page, &provenance, data, snapshots, feedback)?,
        None => {}
    }
    write_run_report(
        dir,
        &provenance,
        &data.class_names,
        &analysis,
        comparison.as_ref(),
    )?;
    feedback.message(&format!("report: {}", dir.file(REPORT_FILE).display()));
    Ok(analysis)
}

/// The comparison with TensorFlow for a run of the article's own setup, when the reference
/// results are at hand (they are in the project, not necessarily elsewhere).
fn tensorflow_comparison(
    dir: &RunDir,
    provenance: &Provenance<'_>,
    analysis: &Analysis,
    run: InHand<'_>,
) -> Result<Option<Comparison>> {
    let Provenance::Trained { config, metrics } = *provenance else {
        return Ok(None);
    };
    let reference = Path::new(REFERENCE_DIR);
    if config.article_model().is_none() || !reference.join(RESULTS_DIR).is_dir() {
        return Ok(None);
    }
    let (comparison, _) = write_comparison(dir, config, metrics, analysis, reference, Some(run))?;
    Ok(Some(comparison))
}
