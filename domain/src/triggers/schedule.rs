//! Timers: deployments of triggers with a `$.interface.timer` prop run on an
//! interval or on a cron schedule in a time zone. The schedule lives in the
//! store like delivery retries do: a due-time index whose members
//! (`<due>:<project>|<env>|<deployment>`) workers promote into a work queue
//! as they come due. Each deployment records its next run; an entry that no
//! longer matches it (paused, rescheduled, deleted) is dropped, so pausing
//! or changing a timer takes effect at once. Missed ticks (after downtime)
//! coalesce into one run, and only the worker that moves the deployment's
//! next run forward (compare-and-swap) runs a tick.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use switchboard_components::component::{Component, Source};
use switchboard_components::props::PropType;
use switchboard_components::template;

use super::Triggers;
use crate::clock::{iso, now_ms};
use crate::error::{Result, invalid};
use crate::model::{Environment, Tenant};
use crate::records;
use crate::store::{Op, QueueEntry};
use crate::triggers::cron::Cron;
use crate::triggers::deployments::Deployment;

/// When a timer prop says to run.
#[derive(Debug, Clone)]
pub enum Timer {
    Interval(u64),
    Cron {
        cron: Box<Cron>,
        expr: String,
        tz: TimeZone,
        tz_name: String,
    },
}

impl Timer {
    /// Reads Pipedream's `{intervalSeconds}` or `{cron, timezone}`.
    pub fn parse(v: &Value, min_interval_secs: u64) -> std::result::Result<Timer, String> {
        if let Some(n) = v.get("intervalSeconds") {
            let n = n
                .as_u64()
                .ok_or("intervalSeconds must be a whole number of seconds")?;
            if n < min_interval_secs.max(1) {
                return Err(format!(
                    "intervalSeconds must be at least {} (this project's minimum)",
                    min_interval_secs.max(1)
                ));
            }
            return Ok(Timer::Interval(n));
        }
        let Some(expr) = v.get("cron").and_then(Value::as_str) else {
            return Err(
                "must be {\"intervalSeconds\": n} or {\"cron\": \"…\", \"timezone\": \"…\"}".into(),
            );
        };
        let cron: Cron = expr.parse()?;
        let tz_name = v
            .get("timezone")
            .and_then(Value::as_str)
            .unwrap_or("UTC")
            .to_string();
        switchboard_components::limits::check_len(
            "time zone",
            &tz_name,
            switchboard_components::limits::MAX_TIMEZONE_LEN,
        )
        .map_err(|e| e.to_string())?;
        let tz = TimeZone::get(&tz_name).map_err(|_| format!("unknown time zone {tz_name:?}"))?;
        // Two consecutive runs closer than the minimum are refused too.
        let now = Timestamp::now();
        if let Some(a) = cron.next_after(now, &tz)
            && let Some(b) = cron.next_after(a, &tz)
            && ((b.as_second() - a.as_second()) as u64) < min_interval_secs
        {
            return Err(format!(
                "cron {expr:?} runs more often than this project's minimum interval of {min_interval_secs} s"
            ));
        }
        Ok(Timer::Cron {
            cron: Box::new(cron),
            expr: expr.to_string(),
            tz,
            tz_name,
        })
    }

    /// The first run strictly after `now_ms`. An interval keeps its phase
    /// from `prev_ms` (the run just done, or the start), so missed runs
    /// coalesce into the next one instead of arriving in a burst.
    pub fn next_after(&self, prev_ms: u64, now_ms: u64) -> Option<u64> {
        match self {
            Timer::Interval(secs) => {
                let every = secs * 1000;
                let behind = now_ms.saturating_sub(prev_ms) / every;
                Some(prev_ms + (behind + 1) * every)
            }
            Timer::Cron { cron, tz, .. } => cron
                .next_after(Timestamp::from_millisecond(now_ms as i64).ok()?, tz)
                .map(|t| t.as_millisecond() as u64),
        }
    }

    /// How far apart runs are (for a cron, the gap after the next run).
    pub fn period_ms(&self) -> u64 {
        match self {
            Timer::Interval(secs) => secs * 1000,
            Timer::Cron { .. } => {
                let now = now_ms();
                self.next_after(now, now)
                    .and_then(|a| Some(self.next_after(a, a)?.saturating_sub(a)))
                    .unwrap_or(60_000)
            }
        }
    }

    pub(crate) fn context(&self, due_ms: u64) -> Value {
        let (interval, cron, tz) = match self {
            Timer::Interval(s) => (json!(s), Value::Null, Value::Null),
            Timer::Cron { expr, tz_name, .. } => (Value::Null, json!(expr), json!(tz_name)),
        };
        json!({"ts": due_ms / 1000, "ms": due_ms, "iso": iso(due_ms),
               "interval_seconds": interval, "cron": cron, "timezone": tz})
    }
}

pub(crate) fn due_member(due_ms: u64, t: &Tenant, dc: &str) -> String {
    format!("{due_ms:016}:{}|{}|{dc}", t.project_id, t.env.as_str())
}

/// A due tick handed to this worker.
pub struct Tick {
    entry: String,
    pub(crate) due_ms: u64,
    pub(crate) tenant: Tenant,
    pub(crate) deployment_id: String,
    /// How often this tick was put off (its tenant over its share).
    deferrals: u32,
}

impl Tick {
    fn from_entry(e: QueueEntry) -> Option<Tick> {
        let (due, rest) = e.item.split_once(':')?;
        let mut parts = rest.split('|');
        let (p, env, dc) = (parts.next()?, parts.next()?, parts.next()?);
        // A put-off tick keeps the run it stands for: `|<due>|<deferrals>`.
        let (due_ms, deferrals) = match (parts.next(), parts.next()) {
            (Some(orig), Some(n)) => (orig.parse().ok()?, n.parse().ok()?),
            _ => (due.parse().ok()?, 0),
        };
        Some(Tick {
            entry: e.id,
            due_ms,
            tenant: Tenant {
                project_id: p.to_string(),
                env: Environment::parse(env)?,
            },
            deployment_id: dc.to_string(),
            deferrals,
        })
    }

    /// The queue entry's id: the same when the entry is reclaimed.
    pub fn entry_id(&self) -> &str {
        &self.entry
    }

    /// The ops that put this tick off for `wait` (no run happens).
    fn defer_ops(&self, wait: std::time::Duration) -> Vec<Op> {
        let later = now_ms() + wait.as_millis() as u64;
        let member = format!(
            "{}|{}|{}",
            due_member(later, &self.tenant, &self.deployment_id),
            self.due_ms,
            self.deferrals.saturating_add(1)
        );
        vec![
            records::index_add(records::schedule_due(), &member),
            self.ack(),
        ]
    }

    pub(crate) fn ack(&self) -> Op {
        Op::QueueAck {
            queue: records::schedule_ready(),
            id: self.entry.clone(),
        }
    }
}

impl Triggers {
    /// The deployment's timer, if its trigger runs on one (timers and
    /// polling sources); a 400 when the configured value is not a valid
    /// timer or runs more often than `min_interval_secs`.
    pub(crate) fn timer_of(
        &self,
        c: &Component,
        d: &Deployment,
        min_interval_secs: u64,
    ) -> Result<Option<Timer>> {
        let default = match &c.source {
            Some(Source::Timer(_)) => None,
            Some(Source::Polling(p)) => Some(json!({"intervalSeconds": p.default_interval_secs})),
            _ => return Ok(None),
        };
        let prop = c.props.iter().find(|p| p.kind == PropType::TimerInterface);
        let v = prop
            .and_then(|p| d.configured_props.get(&p.name).or(p.default.as_ref()))
            .cloned()
            .or(default);
        let name = prop.map_or("timer", |p| p.name.as_str());
        let Some(v) = v else {
            return match prop {
                Some(_) => Err(invalid(format!(
                    "configured_props.{name}: a timer is required"
                ))),
                None => Ok(None),
            };
        };
        Timer::parse(&v, min_interval_secs)
            .map(Some)
            .map_err(|e| invalid(format!("configured_props.{name}: {e}")))
    }

    /// The shortest interval a deployment of this tenant may have: the
    /// project's own, else the configured one.
    pub(crate) async fn min_interval(&self, t: &Tenant) -> Result<u64> {
        Ok(self
            .tenancy
            .project(&t.project_id)
            .await?
            .and_then(|p| p.min_interval_secs)
            .unwrap_or(self.settings.min_interval_secs))
    }

    /// Sets the deployment's next run (or clears it when paused or without
    /// a timer) and returns the op that schedules it. A polling source runs
    /// at once when it has not polled yet (the first poll seeds its cursor)
    /// or is resumed (to catch up), then on its timer, started at a random
    /// point of the first interval so deployments made together spread out.
    pub(crate) async fn schedule_ops(
        &self,
        t: &Tenant,
        c: &Component,
        d: &mut Deployment,
    ) -> Result<Vec<Op>> {
        let min = self.min_interval(t).await?;
        let timer = self.timer_of(c, d, min)?;
        let now = now_ms();
        d.next_run_ms = match (&timer, d.active) {
            (Some(_), true) if matches!(c.source, Some(Source::Polling(_))) => Some(now),
            (Some(timer), true) => timer.next_after(now, now),
            _ => None,
        };
        Ok(d.next_run_ms
            .map(|due| records::index_add(records::schedule_due(), &due_member(due, t, &d.id)))
            .into_iter()
            .collect())
    }

    /// Moves ticks that have come due into the ready queue; returns how many.
    pub async fn promote_due_ticks(&self) -> Result<usize> {
        Ok(self
            .store
            .promote_due(
                &records::schedule_due(),
                &format!("{:016}:", now_ms() + 1),
                &records::schedule_ready(),
                1000,
            )
            .await?)
    }

    /// Takes up to `max` due ticks, waiting up to `wait_ms` for one.
    pub async fn claim_ticks(&self, consumer: &str, max: usize, wait_ms: u64) -> Result<Vec<Tick>> {
        let entries = self
            .store
            .queue_read(&records::schedule_ready(), consumer, max, wait_ms)
            .await?;
        Ok(entries.into_iter().filter_map(Tick::from_entry).collect())
    }

    /// Takes over ticks whose worker died or hung past the lease.
    pub async fn reclaim_ticks(&self, consumer: &str, max: usize) -> Result<Vec<Tick>> {
        let entries = self
            .store
            .queue_reclaim(
                &records::schedule_ready(),
                consumer,
                self.settings.delivery_lease_ms,
                max,
            )
            .await?;
        Ok(entries.into_iter().filter_map(Tick::from_entry).collect())
    }

    /// Runs one tick: schedules the next run, then, if this worker is the
    /// one that moved the deployment past this tick, emits its event.
    pub async fn run_tick(self: &std::sync::Arc<Self>, tick: &Tick) -> Result<bool> {
        let (t, dc) = (&tick.tenant, tick.deployment_id.as_str());
        // The tenant's share of this process's ticks (or later), then a
        // global slot (fairness.rs).
        let _share = match self
            .fairness
            .tick_tenants
            .take(&t.slot(), tick.deferrals)
            .await
        {
            Ok(held) => held,
            Err(wait) => {
                self.store.commit(tick.defer_ops(wait)).await?;
                return Ok(false);
            }
        };
        let _run = self.fairness.tick_runs.acquire().await;
        let key = records::deployment(t, dc);
        let d: Option<Deployment> = self.read(&key).await?;
        let Some(d) = d.filter(|d| d.active && d.next_run_ms == Some(tick.due_ms)) else {
            // Paused, deleted or rescheduled since: not this tick's to run.
            self.store.commit(vec![tick.ack()]).await?;
            return Ok(false);
        };
        let c = self
            .components
            .component(t, &d.component_key, None)
            .await?
            .component;
        // Checked against the minimum when deployed; a later, higher
        // minimum does not stop a running deployment.
        let timer = self.timer_of(&c, &d, 0)?;
        if let (Some(timer), Some(Source::Polling(_))) = (&timer, &c.source) {
            return self.run_poll(tick, timer).await;
        }
        let (Some(timer), Some(Source::Timer(spec))) = (timer, &c.source) else {
            self.store.commit(vec![tick.ack()]).await?;
            return Ok(false);
        };
        let now = now_ms();
        let next = timer.next_after(tick.due_ms, now);
        // The next run is in the index before this one is done: a worker
        // dying from here on leaves the deployment still ticking.
        if let Some(n) = next {
            self.store
                .commit(vec![records::index_add(
                    records::schedule_due(),
                    &due_member(n, t, dc),
                )])
                .await?;
        }
        let mut won = false;
        self.modify::<Deployment, _>(&key, |cur| {
            won = cur.active && cur.next_run_ms == Some(tick.due_ms);
            if won {
                cur.next_run_ms = next;
                cur.last_run_ms = Some(now);
            }
            Ok(won)
        })
        .await?;
        if won {
            let ctx = json!({"tick": timer.context(tick.due_ms)});
            let e = match &spec.event {
                Some(tree) => {
                    template::eval_tree(tree, &ctx).map_err(|e| invalid(e.to_string()))?
                }
                None => ctx["tick"].clone(),
            };
            let sum = template::render(&spec.summary, &ctx).map_err(|e| invalid(e.to_string()))?;
            self.record_event(t, dc, e, sum).await?;
        }
        self.store.commit(vec![tick.ack()]).await?;
        Ok(won)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_keep_their_phase_and_coalesce_missed_runs() {
        let t = Timer::parse(&json!({"intervalSeconds": 60}), 60).unwrap();
        assert_eq!(t.next_after(1_000, 1_000), Some(61_000));
        assert_eq!(t.next_after(61_000, 61_050), Some(121_000), "on time");
        // Down for 5 minutes: one run now-ish, then back on the old phase.
        assert_eq!(t.next_after(61_000, 361_500), Some(421_000));
    }

    #[test]
    fn timer_values_are_checked() {
        for (v, needle) in [
            (json!({"intervalSeconds": 30}), "at least 300"),
            (json!({"intervalSeconds": "x"}), "whole number"),
            (json!({"cron": "* * * * *"}), "minimum interval"),
            (
                json!({"cron": "0 9 * * *", "timezone": "Mars/Olympus"}),
                "unknown time zone",
            ),
            (json!({"cron": "0 9 * *"}), "5 fields"),
            (json!({}), "intervalSeconds"),
            (json!({"cron": "0 ".repeat(50_000)}), "too long"),
            (
                json!({"cron": "0 9 * * *", "timezone": "A/".repeat(50_000)}),
                "too long",
            ),
        ] {
            let e = Timer::parse(&v, 300).unwrap_err();
            assert!(e.contains(needle), "{v}: {e}");
        }
        let c = Timer::parse(
            &json!({"cron": "0 9 * * *", "timezone": "Europe/Paris"}),
            300,
        )
        .unwrap();
        let next = c.next_after(0, 1_795_413_600_000).unwrap(); // 2026-11-23 06:00 UTC
        assert_eq!(iso(next), "2026-11-23T08:00:00.000Z");
    }
}
