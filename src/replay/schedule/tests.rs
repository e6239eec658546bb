use super::*;

fn stage(secs: u64, target: f64) -> Stage {
    Stage { duration: Duration::from_secs(secs), target }
}

#[test]
fn constant_rate_is_exact() {
    let s = Schedule::constant(1000.0, Duration::ZERO);
    assert_eq!(s.due(0), Duration::ZERO);
    assert_eq!(s.due(1000), Duration::from_secs(1));
    assert_eq!(s.due_before(Duration::from_secs(20)), 20_000);
    assert_eq!(s.due_before(Duration::from_millis(1)), 1);
}

#[test]
fn ramp_reaches_full_rate_at_its_end() {
    let s = Schedule::constant(100.0, Duration::from_secs(10));
    // During the ramp the average rate is R/2: 500 requests in the first 10 s.
    assert_eq!(s.due_before(Duration::from_secs(10)), 500);
    let gap_early = s.due(11).as_secs_f64() - s.due(10).as_secs_f64();
    let gap_late = s.due(700).as_secs_f64() - s.due(699).as_secs_f64();
    assert!(gap_early > gap_late * 3.0);
    assert!((gap_late - 0.01).abs() < 1e-9);
    // Request i of the ramp is due at sqrt(2·T·i/R), as the closed form of the ramp alone.
    for i in [1u64, 7, 100, 499] {
        let want = (2.0 * 10.0 * i as f64 / 100.0).sqrt();
        assert!((s.due(i).as_secs_f64() - want).abs() < 1e-9, "request {i}");
    }
    for i in 0..2000 {
        assert!(s.due(i + 1) > s.due(i));
    }
}

#[test]
fn stages_ramp_between_targets_and_end() {
    // k6's example: up to 100/s over 30 s, to 500/s over 2 min, down to 0 over 30 s.
    let s = Schedule::staged(&[stage(30, 100.0), stage(120, 500.0), stage(30, 0.0)]);
    assert_eq!(s.staged_length(), Duration::from_secs(180));
    assert_eq!(s.due_before(Duration::from_secs(30)), 1_500);
    assert_eq!(s.due_before(Duration::from_secs(150)), 1_500 + 36_000);
    assert_eq!(s.due_before(Duration::from_secs(180)), 45_000);
    assert_eq!(s.due_before(Duration::from_secs(999)), 45_000, "nothing is due after the last stage");
    assert_eq!(s.due(45_000), Duration::MAX);
    // Halfway through the second stage the rate is 300/s.
    let i = s.due_before(Duration::from_secs(90));
    let gap = s.due(i + 1).as_secs_f64() - s.due(i).as_secs_f64();
    assert!((gap - 1.0 / 300.0).abs() < 1e-5, "gap {gap}");
    for i in 0..44_999 {
        assert!(s.due(i + 1) >= s.due(i), "request {i}");
    }
}

#[test]
fn a_stage_at_zero_is_a_pause() {
    let s = Schedule::staged(&[stage(10, 100.0), stage(10, 0.0), stage(10, 0.0), stage(10, 100.0)]);
    // 500 + 500 during the first two stages, none in the third, 500 in the last.
    assert_eq!(s.due_before(Duration::from_secs(20)), 1_000);
    assert_eq!(s.due_before(Duration::from_secs(30)), 1_000);
    assert!(s.due(1_000) >= Duration::from_secs(30), "the first request after the pause is due after it");
    assert_eq!(s.due_before(Duration::from_secs(40)), 1_500);
}

#[test]
fn poisson_is_reproducible_per_seed_and_on_target() {
    let p = |seed| Schedule::constant(1000.0, Duration::ZERO).with_arrivals(Arrivals::Poisson { seed });
    let (a, b, c) = (p(7), p(7), p(8));
    assert!((0..10_000).all(|i| a.due(i) == b.due(i)), "the same seed gives the same schedule");
    assert!((0..100).any(|i| a.due(i) != c.due(i)), "another seed another");
    // Each block holds exactly its count: after 4096·5 requests the schedule is on time.
    assert_eq!(a.due_before(Duration::from_secs_f64(BLOCK as f64 * 5.0 / 1000.0)), BLOCK * 5);
    // Gaps are exponential: their standard deviation equals their mean (0 for uniform), and
    // counts per second vary about as much as their mean (a Poisson count's variance).
    let gaps: Vec<f64> = (0..20_000).map(|i| a.due(i + 1).as_secs_f64() - a.due(i).as_secs_f64()).collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let sd = (gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64).sqrt();
    assert!((mean - 0.001).abs() < 0.00005, "mean gap {mean}");
    assert!((sd / mean - 1.0).abs() < 0.05, "coefficient of variation {}", sd / mean);
    let per_10ms: Vec<f64> = (0..2000)
        .map(|w| {
            (a.due_before(Duration::from_millis(10 * (w + 1))) - a.due_before(Duration::from_millis(10 * w))) as f64
        })
        .collect();
    let m = per_10ms.iter().sum::<f64>() / per_10ms.len() as f64;
    let var = per_10ms.iter().map(|n| (n - m).powi(2)).sum::<f64>() / per_10ms.len() as f64;
    assert!((var / m - 1.0).abs() < 0.15, "dispersion {} (mean {m})", var / m);
}

#[test]
fn poisson_due_before_counts_what_due_says() {
    let s = Schedule::staged(&[stage(3, 2000.0), stage(3, 500.0)]).with_arrivals(Arrivals::Poisson { seed: 3 });
    let total = s.due_before(Duration::from_secs(100));
    let dues: Vec<Duration> = (0..total + 10).map(|i| s.due(i)).collect();
    assert!(dues.windows(2).all(|w| w[0] <= w[1]), "due times never go back");
    for ms in (0..6000).step_by(37) {
        let e = Duration::from_millis(ms);
        let want = dues.iter().filter(|d| **d < e).count() as u64;
        assert_eq!(s.due_before(e), want, "at {ms} ms");
    }
    // The stages hold 3000 + 3750 expected requests: the first block exactly, the second's
    // share below 6750 is binomial (sd ~30).
    assert!(total.abs_diff(6_750) < 200, "{total}");
}

#[test]
fn a_recorded_timeline_is_due_at_its_offsets_pass_after_pass_scaled_by_speed() {
    const S: u64 = 1_000_000_000;
    // Records at 5 s, 5 s, 7 s and 9 s of a 12 s timeline (offsets count from the first).
    let s = Schedule::recorded(Recorded::new(&[5 * S, 5 * S, 7 * S, 9 * S], 12 * S, 2.0));
    let due: Vec<f64> = (0..8).map(|i| s.due(i).as_secs_f64()).collect();
    assert_eq!(due, [0.0, 0.0, 1.0, 2.0, 6.0, 6.0, 7.0, 8.0]);
    for i in 0..8u64 {
        // Strictly before its own due time, exactly the requests ahead of it that are due earlier.
        let before = s.due_before(s.due(i));
        assert_eq!(before, (0..i).filter(|&j| s.due(j) < s.due(i)).count() as u64, "request {i}");
    }
    assert_eq!(s.expected_by(1.0), 3.0);
    assert_eq!(s.expected_by(6.5), 6.0);
    assert!((Recorded::new(&[5 * S, 5 * S, 7 * S, 9 * S], 12 * S, 2.0).mean_rate() - 4.0 / 6.0).abs() < 1e-12);
    assert_eq!(s.rate_at(0.0), 2.0, "two requests in the second around the start");
}

#[test]
fn a_recorded_timeline_with_no_records_is_never_due_and_does_not_panic() {
    // A --shard whose slice holds no record of the timeline (a 1-record corpus, --shard 1/2).
    let s = Schedule::recorded(Recorded::new(&[], 5_000_000_000, 1.0));
    assert_eq!(s.due_before(Duration::from_secs(3600)), 0);
    assert_eq!(s.expected_by(10.0), 0.0);
    // Nothing to send: the pacer ends as soon as the (empty) stream does.
    assert_eq!(s.due(0), Duration::ZERO);
    assert_eq!(s.due(u64::MAX), Duration::ZERO);
}
