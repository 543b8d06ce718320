//! `leadscore train` as a user runs it on a CRM export: the figures, the saved versions, and
//! bad files refused with the reason while the model in force stays.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn leadscore(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("run leadscore")
}

fn export() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/crm/bank-additional-1200.csv")
}

fn current(data_dir: &Path) -> PathBuf {
    data_dir.join("blobs/models/default/current.json")
}

fn train_json(data_dir: &Path, csv: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "train",
        "--csv",
        csv.to_str().unwrap(),
        "--target",
        "y",
        "--json",
    ];
    args.extend_from_slice(extra);
    leadscore(data_dir, &args)
}

#[test]
fn a_crm_export_trains_a_calibrated_model_saved_in_versions() {
    let dir = tempfile::tempdir().unwrap();
    let out = train_json(dir.path(), &export(), &["--drop", "duration"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(m["rows"], 1200);
    assert_eq!(m["positives"], 123, "`yes` guessed as the converted value");
    assert_eq!(
        m["features"], 19,
        "every column but the target and the dropped one"
    );
    let auc = m["auc"].as_f64().unwrap();
    assert!(auc > 0.65 && auc < 1.0, "cross-validated AUC {auc}");
    // Calibrated: the mean probability is near the base rate and the error is small.
    assert!(m["brier"].as_f64().unwrap() < 0.1, "{m}");
    assert!(m["calibration_error"].as_f64().unwrap() < 0.05, "{m}");
    for key in ["precision", "recall", "f1", "threshold", "time_split_auc"] {
        assert!(m[key].is_number(), "{key} in {m}");
    }
    let deciles = m["deciles"].as_array().unwrap();
    assert_eq!(deciles.len(), 10);
    assert!(
        deciles[0]["lift"].as_f64().unwrap() > 1.5,
        "the top tenth converts well above the base rate: {}",
        deciles[0]
    );
    assert_eq!(m["version"], 1);
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(current(dir.path())).unwrap()).unwrap();
    assert_eq!(saved["version"], 1);
    let model: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            dir.path()
                .join("blobs")
                .join(saved["key"].as_str().unwrap()),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        model["metrics"]["auc"], m["auc"],
        "the model keeps its figures"
    );

    // Training again makes the next version; the first stays.
    let out = train_json(dir.path(), &export(), &["--drop", "duration,pdays"]);
    assert!(out.status.success());
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["version"], 2);
    assert_eq!(m["features"], 18);
    assert!(
        dir.path()
            .join("blobs/models/default/v000001.json")
            .is_file()
    );

    // The report for people.
    let out = leadscore(
        dir.path(),
        &[
            "train",
            "--csv",
            export().to_str().unwrap(),
            "--target",
            "y",
            "--positive",
            "YES",
            "--drop",
            "duration",
            "--dry-run",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for line in [
        "5-fold CV",
        "time-ordered",
        "<- chosen",
        "Brier score",
        "decile",
        "not saved",
    ] {
        assert!(text.contains(line), "{line} in:\n{text}");
    }
    let saved_again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(current(dir.path())).unwrap()).unwrap();
    assert_eq!(saved_again["version"], 2, "--dry-run saves nothing");
}

#[test]
fn bad_exports_are_refused_and_the_model_in_force_stays() {
    let dir = tempfile::tempdir().unwrap();
    let good = train_json(dir.path(), &export(), &["--drop", "duration"]);
    assert!(good.status.success());
    let before = std::fs::read(current(dir.path())).unwrap();

    let text = std::fs::read_to_string(export()).unwrap();
    let header = text.lines().next().unwrap();
    // One age written as words among 1,200 numbers.
    let first = text.lines().nth(1).unwrap();
    let age = first.split(';').next().unwrap();
    let garbage = text.replacen(first, &first.replacen(age, "\"thirty\"", 1), 1);
    let one_class: String = std::iter::once(header)
        .chain(
            text.lines()
                .skip(1)
                .filter(|l| l.ends_with("\"no\""))
                .take(100),
        )
        .collect::<Vec<_>>()
        .join("\n");
    let cases: [(&str, String, &[&str], &str); 6] = [
        (
            "no-target.csv",
            text.replace("\"y\"", "\"outcome\""),
            &[],
            "there is no column `y`",
        ),
        ("header-only.csv", format!("{header}\n"), &[], "no rows"),
        ("empty.csv", String::new(), &[], "empty"),
        ("one-class.csv", one_class, &[], "only one outcome"),
        (
            "garbage.csv",
            garbage,
            &[],
            "column `age`: `thirty` (row 1) is not a number",
        ),
        (
            "good.csv",
            text.clone(),
            &["--drop", "nope"],
            "--drop nope: there is no column",
        ),
    ];
    for (name, content, extra, reason) in cases {
        let csv = dir.path().join(name);
        std::fs::write(&csv, content).unwrap();
        let out = train_json(dir.path(), &csv, extra);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} was accepted");
        assert!(stderr.contains(reason), "{name}: {stderr}");
        assert!(
            stderr.contains(name),
            "{name}: the error names the file: {stderr}"
        );
        assert_eq!(
            std::fs::read(current(dir.path())).unwrap(),
            before,
            "{name} left the model in force"
        );
    }
}
