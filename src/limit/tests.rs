use super::*;

fn settings() -> Settings {
    Settings {
        start: 10.0,
        max: 100_000.0,
        factor: 2.0,
        precision: 0.05,
        step: Duration::ZERO,
        warmup: Duration::ZERO,
        cooldown: Duration::ZERO,
        budget: None,
        readback_wait: Duration::ZERO,
        max_steps: 50,
    }
}

/// A server that answers everything below `capacity` requests/s in 2 ms, and above it fails
/// the excess (as a rate limiter does).
fn limiter(capacity: f64) -> impl FnMut(f64) -> Result<Figures, StepError> {
    move |rate| {
        let due = (rate * 10.0).round() as u64;
        let ok = ((capacity.min(rate)) * 10.0).round() as u64;
        Ok(Figures {
            target: rate,
            achieved: rate,
            scheduled: due,
            ok,
            failed: due - ok,
            p50_us: 2_000,
            p99_us: 2_000,
            ..Figures::default()
        })
    }
}

#[test]
fn finds_a_rate_limit_within_the_precision() {
    let slo = Slo::parse("success>=99.9%").unwrap();
    let mut rates = Vec::new();
    let out = search(&settings(), &slo, limiter(300.0), || false, |s| rates.push(s.rate));
    assert_eq!(out.ended_by, Ended::Precision);
    let (lo, hi) = (out.limit.unwrap(), out.failed_at.unwrap());
    assert!(lo <= 300.0 && hi > 300.0 && (hi - lo) / lo <= 0.05, "{lo} {hi}");
    assert!(lo >= 300.0 * 0.95, "{lo}");
    // Step-up by doubling, then bisection: 10, 20, ... 320 (fail), 240, 280, 300, 310.
    assert_eq!(&rates[..7], [10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 240.0]);
    assert_eq!(out.steps.len(), rates.len());
}

#[test]
fn steps_down_when_the_start_fails_and_stops_at_the_floor_or_ceiling() {
    let slo = Slo::parse("success>=99.9%").unwrap();
    let s = Settings { start: 1000.0, ..settings() };
    let out = search(&s, &slo, limiter(3.0), || false, |_| {});
    assert!(out.limit.unwrap() <= 3.0 && out.limit.unwrap() >= 2.85, "{out:?}");
    let down = |r| Ok(Figures { target: r, scheduled: 10, failed: 10, ..Figures::default() });
    let out = search(&s, &slo, down, || false, |_| {});
    assert_eq!((out.ended_by, out.limit), (Ended::Floor, None));
    let s = Settings { max: 50.0, ..settings() };
    let out = search(&s, &slo, limiter(1e9), || false, |_| {});
    assert_eq!((out.ended_by, out.limit), (Ended::Max, Some(50.0)));
    assert_eq!(out.steps.iter().map(|s| s.rate).collect::<Vec<_>>(), [10.0, 20.0, 40.0, 50.0]);
}

#[test]
fn budgets_and_interrupts_stop_it_and_a_failed_step_is_an_error() {
    let slo = Slo::parse("success>=99.9%").unwrap();
    let s = Settings { max_steps: 3, ..settings() };
    let out = search(&s, &slo, limiter(300.0), || false, |_| {});
    assert_eq!((out.ended_by, out.steps.len(), out.limit), (Ended::Steps, 3, Some(40.0)));
    let s = Settings { budget: Some(Duration::from_millis(1)), step: Duration::from_millis(5), ..settings() };
    let out = search(&s, &slo, limiter(300.0), || false, |_| {});
    assert_eq!((out.ended_by, out.steps.len()), (Ended::Budget, 0));
    let out = search(&settings(), &slo, limiter(300.0), || true, |_| {});
    assert_eq!(out.ended_by, Ended::Interrupted);
    let mut calls = 0;
    let flaky = |r| {
        calls += 1;
        if calls == 3 { Err("the corpus is gone".to_string()) } else { limiter(300.0)(r) }
    };
    let out = search(&settings(), &slo, flaky, || false, |_| {});
    assert_eq!((out.ended_by, out.steps.len(), out.error.as_deref()), (Ended::Error, 2, Some("the corpus is gone")));
}

#[test]
fn the_text_charts_p99_by_rate() {
    let step = |rate: f64, p99_us: u64, pass: bool| Step {
        rate,
        figures: Figures { p99_us, ..Figures::default() },
        success: 100.0,
        pass,
        broken: Vec::new(),
        at_s: 0.0,
    };
    // In search order (up, then back down); the chart is by rate.
    let chart = report::chart(&[step(10.0, 2_000, true), step(40.0, 400_000, false), step(20.0, 100_000, true)]);
    let lines: Vec<&str> = chart.lines().collect();
    assert_eq!(lines[0], "  p99 by rate (the longest bar is 400.00 ms)");
    let bars: Vec<usize> = lines[1..].iter().map(|l| l.matches('█').count()).collect();
    assert_eq!(bars, [1, 10, 40], "{chart}");
    assert!(lines[1].trim_start().starts_with("10.0/s") && lines[3].ends_with("FAIL"), "{chart}");
    assert_eq!(report::chart(&[step(10.0, 2_000, true)]), "", "one step is no chart");
}

#[test]
fn the_budget_counts_each_steps_read_back() {
    let slo = Slo::parse("success>=99.9%").unwrap();
    let s = Settings { budget: Some(Duration::from_secs(60)), step: Duration::from_secs(30), ..settings() };
    let out = search(&s, &slo, limiter(300.0), || false, |_| {});
    assert!(!out.steps.is_empty(), "a 30 s step fits a minute");
    let s = Settings { readback_wait: Duration::from_secs(31), ..s };
    let out = search(&s, &slo, limiter(300.0), || false, |_| {});
    assert_eq!((out.ended_by, out.steps.len()), (Ended::Budget, 0), "30 s and 31 s of read-back do not");
}
