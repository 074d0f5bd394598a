//! Plots as inline SVG drawn on the server (no script, no library): requests
//! per minute by outcome as stacked bars, and their mean and slowest latency.
//! A sentence under each says the same in words, for readers and for tests.

use crate::domain::series::MinuteSeries;
use maud::{html, Markup};

const WIDTH: u64 = 600;
const HEIGHT: u64 = 120;

/// Bar width and gap, so the bars fill the plot.
fn slot(series: &MinuteSeries) -> u64 {
    (WIDTH / series.buckets.len().max(1) as u64).max(2)
}

/// Scales `value` of `max` to the plot's height.
fn scaled(value: u64, max: u64) -> u64 {
    match max {
        0 => 0,
        max => (value * HEIGHT).div_ceil(max),
    }
}

fn axis(series: &MinuteSeries, top: &str) -> Markup {
    let end = series.start + chrono::TimeDelta::minutes(series.buckets.len() as i64);
    html! {
        text x="2" y="10" class="axis" { (top) }
        text x="2" y=(HEIGHT + 14) class="axis" { (series.start.format("%H:%M")) }
        text x=(WIDTH - 2) y=(HEIGHT + 14) text-anchor="end" class="axis" { (end.format("%H:%M")) " UTC" }
    }
}

/// Requests per minute: delivered (green) under failed (red).
pub fn requests(series: &MinuteSeries, label: &str) -> Markup {
    let max = series.buckets.iter().map(|b| b.count()).max().unwrap_or(0);
    let width = slot(series);
    let total = series.total();
    html! {
        figure.plot {
            svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT + 18) } role="img" aria-label={ "Requests per minute, " (label) } {
                @for (i, bucket) in series.buckets.iter().enumerate() {
                    @let x = i as u64 * width;
                    @let ok = scaled(bucket.ok, max);
                    @let failed = scaled(bucket.failed, max);
                    @if bucket.ok > 0 {
                        rect.ok x=(x) y=(HEIGHT - ok) width=(width - 1) height=(ok) {
                            title { (bucket.ok) " delivered" }
                        }
                    }
                    @if bucket.failed > 0 {
                        rect.failed x=(x) y=(HEIGHT - ok - failed) width=(width - 1) height=(failed) {
                            title { (bucket.failed) " failed" }
                        }
                    }
                }
                (axis(series, &format!("{max}/min")))
            }
            figcaption.requests-summary {
                "Requests per minute, " (label) ": " (total.count()) " in the last "
                (series.buckets.len()) " minutes, " (total.ok) " succeeded, " (total.failed) " failed."
            }
        }
    }
}

/// Mean latency per minute as a line over the slowest request as bars.
pub fn latency(series: &MinuteSeries, label: &str) -> Markup {
    let max = series.buckets.iter().map(|b| b.max_ms).max().unwrap_or(0);
    let width = slot(series);
    let points: Vec<String> = series
        .buckets
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let mean = b.mean_ms()?;
            Some(format!(
                "{},{}",
                i as u64 * width + width / 2,
                HEIGHT - scaled(mean, max)
            ))
        })
        .collect();
    let total = series.total();
    html! {
        figure.plot {
            svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT + 18) } role="img" aria-label={ "Latency, " (label) } {
                @for (i, bucket) in series.buckets.iter().enumerate() {
                    @if bucket.count() > 0 {
                        @let h = scaled(bucket.max_ms, max);
                        rect.slowest x=(i as u64 * width) y=(HEIGHT - h) width=(width - 1) height=(h) {
                            title { "slowest " (bucket.max_ms) " ms, mean " (bucket.mean_ms().unwrap_or(0)) " ms" }
                        }
                    }
                }
                @if !points.is_empty() { polyline.mean points=(points.join(" ")) {} }
                (axis(series, &format!("{max} ms")))
            }
            figcaption.latency-summary {
                "Latency, " (label) ": mean "
                @match total.mean_ms() { Some(ms) => { (ms) " ms" }, None => "none" }
                ", slowest " (total.max_ms) " ms."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::series::AttemptPoint;

    fn series() -> MinuteSeries {
        let now: chrono::DateTime<chrono::Utc> = "2026-12-03T10:10:00Z".parse().unwrap();
        let point = |minutes: i64, ok, duration_ms| AttemptPoint {
            at: now - chrono::TimeDelta::minutes(minutes),
            duration_ms,
            ok,
        };
        MinuteSeries::of(
            &[point(1, true, 10), point(1, false, 30), point(0, true, 20)],
            now,
            10,
        )
    }

    #[test]
    fn bars_are_drawn_for_each_outcome_and_the_caption_counts_them() {
        let svg = requests(&series(), "this endpoint").into_string();
        assert_eq!(svg.matches("<rect class=\"ok\"").count(), 2);
        assert_eq!(svg.matches("<rect class=\"failed\"").count(), 1);
        assert!(
            svg.contains("3 in the last 10 minutes, 2 succeeded, 1 failed."),
            "{svg}"
        );
        // The tallest minute (two requests) fills the plot.
        assert!(svg.contains(&format!("height=\"{}\"", HEIGHT / 2)), "{svg}");
    }

    #[test]
    fn latency_draws_a_line_through_the_minutes_with_requests() {
        let svg = latency(&series(), "node").into_string();
        assert_eq!(svg.matches("<rect class=\"slowest\"").count(), 2);
        let line = svg
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(line.split(' ').count(), 2, "{line}");
        assert!(svg.contains("mean 20 ms, slowest 30 ms."), "{svg}");
        let empty = MinuteSeries::empty(chrono::Utc::now(), 5);
        assert!(!latency(&empty, "node").into_string().contains("polyline"));
    }
}
