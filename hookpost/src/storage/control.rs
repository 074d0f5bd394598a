//! Delivery control as both backends run it: the endpoint row it reads, the
//! rules of [`crate::domain::control`] applied to it, and what must be written
//! back. The backends only run the statements these plans ask for, inside the
//! transaction of the admission or attempt, so every node sees one state.

use super::rows::{from_json, from_sealed, to_json, Columns};
use super::{StoreError, StoreResult};
use crate::domain::attempt::LegRecord;
use crate::domain::control::{Admission, Change, Control, ControlPolicy, DisableReason};
use crate::domain::delivery::{AttemptReport, NextState};
use crate::domain::endpoint::{EndpointSpec, EndpointState};
use crate::domain::notice::{self, Notice, Subject};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The stored form of a control state nobody touched (the column default).
const UNTOUCHED: &str = "{}";

/// What an admission decided, for the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    /// Send it now; it holds a place until its attempt is recorded.
    Go,
    /// Send it now as the open breaker's probe (holding a place too).
    Probe,
    /// Put back without an attempt, due later.
    Held,
    /// Parked (`paused`): its endpoint is disabled.
    Parked,
    /// Not pending any more (stopped, or recorded by another node).
    Stopped,
}

/// An endpoint's row as delivery control reads it (`account_id, state,
/// control` and, when a rule needs it, `spec`): recording a quiet success
/// neither reads nor decodes the spec.
pub struct ControlRow {
    /// Owner.
    pub account_id: String,
    state: String,
    control: String,
    spec: Option<String>,
}

impl ControlRow {
    /// Reads `account_id, state, control` and `spec`.
    pub fn read(r: &impl Columns) -> StoreResult<Self> {
        Ok(ControlRow {
            spec: Some(r.text("spec")?),
            ..Self::read_head(r)?
        })
    }

    /// Reads `account_id, state, control`; the spec comes later if needed
    /// ([`ControlRow::needs_spec`]).
    pub fn read_head(r: &impl Columns) -> StoreResult<Self> {
        Ok(ControlRow {
            account_id: r.text("account_id")?,
            state: r.text("state")?,
            control: r.text("control")?,
            spec: None,
        })
    }

    /// Whether [`feedback`] on this attempt needs the spec: not for a success
    /// of an endpoint whose control nothing has touched.
    pub fn needs_spec(&self, report: &AttemptReport) -> bool {
        self.spec.is_none() && !(report.signal.delivered && self.control == UNTOUCHED)
    }

    /// The row with its spec.
    pub fn with_spec(self, spec: String) -> Self {
        ControlRow {
            spec: Some(spec),
            ..self
        }
    }

    fn decode(&self) -> StoreResult<(EndpointSpec, Control)> {
        let spec = self
            .spec
            .as_deref()
            .ok_or_else(|| StoreError::Internal("an endpoint's spec was not read".into()))?;
        Ok((from_sealed(spec)?, from_json(&self.control)?))
    }

    fn disabled(&self) -> bool {
        self.state != EndpointState::Enabled.as_str()
    }
}

/// The columns written back: `(control JSON, gated 0/1, state)`.
pub type Saved = (String, i64, &'static str);

fn saved(spec: &EndpointSpec, control: &Control, state: EndpointState) -> StoreResult<Saved> {
    let gated = state != EndpointState::Enabled || control.gated(&spec.limits());
    Ok((to_json(control)?, i64::from(gated), state.as_str()))
}

/// An admission's decision and its writes.
pub struct AdmissionPlan {
    /// For the worker.
    pub admitted: Admitted,
    /// The endpoint's new control state, when it changed.
    pub save: Option<Saved>,
    /// When the delivery is put back: its due time (ms) and why.
    pub hold: Option<(i64, &'static str)>,
}

/// Decides one claimed delivery against its endpoint's row, with `in_flight`
/// others admitted and unfinished.
pub fn admission(
    row: &ControlRow,
    in_flight: u32,
    now: DateTime<Utc>,
    lease: Duration,
) -> StoreResult<AdmissionPlan> {
    if row.disabled() {
        return Ok(AdmissionPlan {
            admitted: Admitted::Parked,
            save: None,
            hold: None,
        });
    }
    let (spec, mut control) = row.decode()?;
    let before = control.clone();
    let decision = control.admit(&spec.limits(), in_flight, now, lease);
    let save = (control != before || !control.gated(&spec.limits()))
        .then(|| saved(&spec, &control, EndpointState::Enabled))
        .transpose()?;
    let (admitted, hold) = match decision {
        Admission::Go { probe: false } => (Admitted::Go, None),
        Admission::Go { probe: true } => (Admitted::Probe, None),
        Admission::Wait { until, hold } => (
            Admitted::Held,
            Some((until.timestamp_millis(), hold.as_str())),
        ),
    };
    Ok(AdmissionPlan {
        admitted,
        save,
        hold,
    })
}

/// What recording an attempt does to its endpoint beyond its health.
#[derive(Debug, Default)]
pub struct Feedback {
    /// The endpoint's new control state (and state), when it changed.
    pub save: Option<Saved>,
    /// The endpoint was disabled just now: park its pending deliveries.
    pub disabled: bool,
    /// The breaker closed: the deliveries it held are due now.
    pub breaker_closed: bool,
    /// The endpoint is disabled and this delivery would retry: park it.
    pub park_this: bool,
    /// Operational events to publish.
    pub notices: Vec<Notice>,
}

/// Applies one attempt's outcome to its endpoint's row.
pub fn feedback(
    row: &ControlRow,
    report: &AttemptReport,
    policy: &ControlPolicy,
    now: DateTime<Utc>,
) -> StoreResult<Feedback> {
    let retries = matches!(report.next, NextState::RetryAt(..));
    let mut out = Feedback {
        park_this: retries && row.disabled(),
        ..Feedback::default()
    };
    if report.signal.delivered && row.control == UNTOUCHED {
        return Ok(out);
    }
    // Not quiet: the caller read the spec (`needs_spec`).
    let (spec, mut control) = row.decode()?;
    let disable_after = spec.disable_after.map_or(policy.disable_after, |d| d.0);
    let before = control.clone();
    let changes = control.after_attempt(report.signal, &spec.limits(), policy, disable_after, now);
    let mut state = if row.disabled() {
        EndpointState::Disabled
    } else {
        EndpointState::Enabled
    };
    let told = notice::told(policy.operator_account.as_deref(), &row.account_id);
    let last_error = last_error(&report.legs);
    let masked = spec.url.masked();
    let subject = Subject {
        account_id: &row.account_id,
        endpoint_id: report.endpoint_id.as_deref(),
        url: Some(&masked),
    };
    for change in changes {
        match change {
            Change::Disabled(reason) if state == EndpointState::Enabled => {
                state = EndpointState::Disabled;
                control.disabled_reason = Some(reason);
                out.disabled = true;
                out.park_this = retries;
                if told {
                    out.notices.push(Notice::new(
                        notice::ENDPOINT_DISABLED,
                        subject,
                        reason.as_str(),
                        last_error.as_deref(),
                        now,
                    ));
                }
            }
            Change::BreakerOpened(_) if told => out.notices.push(Notice::new(
                notice::BREAKER_OPENED,
                subject,
                "failure_streak",
                last_error.as_deref(),
                now,
            )),
            Change::BreakerClosed => out.breaker_closed = true,
            _ => {}
        }
    }
    if control != before || out.disabled {
        out.save = Some(saved(&spec, &control, state)?);
    }
    Ok(out)
}

/// The columns a state change by hand writes, and its notice: enabling forgets
/// every reaction to the receiver (breaker, pause, cut concurrency).
pub fn state_change(
    row: &ControlRow,
    id: &str,
    state: EndpointState,
    policy: &ControlPolicy,
    now: DateTime<Utc>,
) -> StoreResult<(Saved, Option<Notice>)> {
    let (spec, control) = row.decode()?;
    let (control, event_type, reason) = match state {
        EndpointState::Enabled => (control.enabled(), notice::ENDPOINT_ENABLED, "manual"),
        EndpointState::Disabled => (
            Control {
                // Disabling a disabled endpoint keeps why it was disabled.
                disabled_reason: control.disabled_reason.or(Some(DisableReason::Manual)),
                ..control
            },
            notice::ENDPOINT_DISABLED,
            DisableReason::Manual.as_str(),
        ),
    };
    let masked = spec.url.masked();
    let changed = row.state != state.as_str();
    let notice = (changed && notice::told(policy.operator_account.as_deref(), &row.account_id))
        .then(|| {
            let subject = Subject {
                account_id: &row.account_id,
                endpoint_id: Some(id),
                url: Some(&masked),
            };
            Notice::new(event_type, subject, reason, None, now)
        });
    Ok((saved(&spec, &control, state)?, notice))
}

/// The notice of a delivery that failed for good, when the operator is told.
pub fn failed_notice(
    report: &AttemptReport,
    policy: &ControlPolicy,
    url: Option<&str>,
    now: DateTime<Utc>,
) -> Option<Notice> {
    let told = notice::told(policy.operator_account.as_deref(), &report.account_id);
    (told && report.next == NextState::Failed).then(|| {
        let subject = Subject {
            account_id: &report.account_id,
            endpoint_id: report.endpoint_id.as_deref(),
            url,
        };
        let error = last_error(&report.legs);
        Notice::new(
            notice::DELIVERY_FAILED,
            subject,
            crate::domain::delivery::reason::ATTEMPTS_EXHAUSTED,
            error.as_deref(),
            now,
        )
        .with_event(&report.event_id)
    })
}

/// The last failed leg's error in words (`http_status 410: Gone`).
fn last_error(legs: &[LegRecord]) -> Option<String> {
    let leg = legs.iter().rev().find(|l| !l.succeeded())?;
    let kind = leg.error.map_or("error", |k| k.as_str());
    let status = leg.http_status.map(|s| format!(" {s}")).unwrap_or_default();
    let detail = leg
        .error_detail
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    Some(format!("{kind}{status}{detail}"))
}
