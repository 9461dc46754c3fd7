//! `actions/run`: validate the props, run the action with the user's
//! account under its timeout, and report the outcome. With an idempotency
//! key the outcome is kept for a day, so a retried request (the SDKs retry
//! every method on 5xx and 429) replays it instead of running again.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use switchboard_components::action::{self, props_context};
use switchboard_components::options::{dynamic_props_id, resolve_props};
use switchboard_components::props::validate_configured;
use switchboard_components::runtime::{RunError, Session};

use crate::accounts::Accounts;
use crate::catalog::Components;
use crate::context::{Context, over_context};
use crate::crypto::sha256_hex;
use crate::error::{ActionFailure, Error, Result, invalid};
use crate::model::Tenant;
use crate::records;
use crate::tenancy::Tenancy;

// Named here, with the failures it describes (`error` is private).
pub mod stash;

pub use crate::error::FailureCode;
use crate::usage::Metric;

pub struct Actions {
    ctx: Arc<Context>,
    pub(crate) tenancy: Arc<Tenancy>,
    pub(crate) accounts: Arc<Accounts>,
    pub(crate) components: Arc<Components>,
}

over_context!(Actions);

impl Actions {
    pub(crate) fn new(
        ctx: Arc<Context>,
        tenancy: Arc<Tenancy>,
        accounts: Arc<Accounts>,
        components: Arc<Components>,
    ) -> Self {
        Actions {
            ctx,
            tenancy,
            accounts,
            components,
        }
    }
}

const IDEMPOTENCY_TTL_MS: u64 = 24 * 3600 * 1000;

#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub key: String,
    pub version: Option<String>,
    pub external_user_id: String,
    pub configured_props: Map<String, Value>,
    pub dynamic_props_id: Option<String>,
    pub idempotency_key: Option<String>,
}

/// Pipedream's run response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunOutput {
    pub exports: Map<String, Value>,
    pub ret: Value,
    pub os: Vec<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum Remembered {
    Running {
        fingerprint: String,
    },
    Done {
        fingerprint: String,
        outcome: std::result::Result<RunOutput, ActionFailure>,
    },
}

/// The outcome, and whether it was replayed from an earlier request.
pub struct RunReply {
    pub outcome: std::result::Result<RunOutput, ActionFailure>,
    pub replayed: bool,
}

fn observations(s: &Session<'_>) -> Vec<Value> {
    s.observations
        .iter()
        .filter_map(|o| serde_json::to_value(o).ok())
        .collect()
}

/// What went wrong, as a failure the caller must not blindly retry.
fn failure(e: RunError, s: &Session<'_>) -> std::result::Result<ActionFailure, Error> {
    let os = &s.observations;
    Ok(match e {
        // Refused before anything was sent: bad input. After a request went
        // out, the run had effects and its outcome must be remembered.
        RunError::Blocked(m) if s.sent == 0 => return Err(Error::Forbidden(m)),
        RunError::Blocked(m) => ActionFailure::new(FailureCode::Blocked, m, Value::Null, os),
        RunError::TooLarge(m) => ActionFailure::new(FailureCode::TooLarge, m, Value::Null, os),
        RunError::Failed {
            step,
            status,
            message,
            body,
            retry_after_secs,
        } => ActionFailure::new(
            FailureCode::StepFailed,
            message,
            json!({"step": step, "status": status, "body": body, "retry_after_secs": retry_after_secs}),
            os,
        ),
        RunError::Timeout(_) => ActionFailure::new(
            FailureCode::Timeout,
            "the action did not finish within its time limit",
            Value::Null,
            os,
        ),
        RunError::Auth(m) => ActionFailure::new(FailureCode::AuthError, m, Value::Null, os),
        RunError::Template(t) => {
            ActionFailure::new(FailureCode::TemplateError, t.to_string(), Value::Null, os)
        }
        RunError::Unreachable(m) => {
            ActionFailure::new(FailureCode::Unreachable, m, Value::Null, os)
        }
        RunError::Invalid(m) => ActionFailure::new(FailureCode::InvalidRequest, m, Value::Null, os),
    })
}

impl Actions {
    pub async fn run_action(self: &Arc<Self>, t: &Tenant, req: RunRequest) -> Result<RunReply> {
        crate::validate::external_user_id(&req.external_user_id)?;
        self.tenancy
            .check_user_live(t, &req.external_user_id)
            .await?;
        let _share = self.request_share(t).await?;
        let Some(idem) = req.idempotency_key.clone() else {
            return Ok(RunReply {
                outcome: self.run_once(t, &req).await?,
                replayed: false,
            });
        };
        crate::validate::idempotency_key(&idem)?;
        let key = records::idempotency(
            t,
            &sha256_hex(format!("{}\n{idem}", req.external_user_id).as_bytes()),
        );
        let fingerprint = sha256_hex(
            json!({"id": req.key, "version": req.version, "props": req.configured_props})
                .to_string()
                .as_bytes(),
        );
        let entry = self
            .components
            .component(t, &req.key, req.version.as_deref())
            .await?;
        let running_ttl = (action::timeout(&entry.component).as_millis() as u64) + 30_000;
        let marker = records::to_bytes(&Remembered::Running {
            fingerprint: fingerprint.clone(),
        });
        if !self
            .store
            .put_if_absent(&key, marker, Some(running_ttl))
            .await?
        {
            return match self.read::<Remembered>(&key).await? {
                Some(Remembered::Done {
                    fingerprint: f,
                    outcome,
                }) if f == fingerprint => Ok(RunReply {
                    outcome,
                    replayed: true,
                }),
                Some(Remembered::Running { fingerprint: f }) if f == fingerprint => {
                    Err(Error::InProgress {
                        message: "a run with this Idempotency-Key is in progress; retry shortly"
                            .into(),
                        retry_after_secs: 1,
                    })
                }
                Some(_) => Err(Error::IdempotencyKeyReused(
                    "this Idempotency-Key was used with a different request".into(),
                )),
                // Expired between the two reads: treat as in progress.
                None => Err(Error::InProgress {
                    message: "retry shortly".into(),
                    retry_after_secs: 1,
                }),
            };
        }
        let outcome = match self.run_once(t, &req).await {
            Ok(o) => o,
            Err(e) => {
                // Refused before running: the key may be used again.
                let _ = self.store.commit(vec![crate::store::Op::Delete(key)]).await;
                return Err(e);
            }
        };
        let done = Remembered::Done {
            fingerprint,
            outcome: outcome.clone(),
        };
        self.store
            .commit(vec![crate::store::Op::Put {
                key,
                value: records::to_bytes(&done),
                ttl_ms: Some(IDEMPOTENCY_TTL_MS),
            }])
            .await?;
        Ok(RunReply {
            outcome,
            replayed: false,
        })
    }

    /// Validates and runs; `Err` when nothing ran (bad input), `Ok(Err)`
    /// when the action ran and failed.
    async fn run_once(
        self: &Arc<Self>,
        t: &Tenant,
        req: &RunRequest,
    ) -> Result<std::result::Result<RunOutput, ActionFailure>> {
        let entry = self
            .components
            .component(t, &req.key, req.version.as_deref())
            .await?;
        let c = &entry.component;
        if !c.is_action() {
            return Err(invalid(format!(
                "{} is a trigger; deploy it instead of running it",
                c.key
            )));
        }
        let props = resolve_props(c, &req.configured_props).map_err(|e| invalid(e.to_string()))?;
        if let Some(id) = req.dynamic_props_id.as_deref().filter(|s| !s.is_empty())
            && c.props.iter().any(|p| p.reload_props)
            && id != dynamic_props_id(&props)
        {
            return Err(invalid(format!(
                "dynamic_props_id {id} does not match the props these configured_props produce; reload props first"
            )));
        }
        let owned: Vec<_> = props.iter().map(|p| (*p).clone()).collect();
        let mut errors = validate_configured(&owned, &req.configured_props)
            .err()
            .unwrap_or_default();
        let accounts = self
            .components
            .check_accounts(
                t,
                &req.external_user_id,
                &props,
                &req.configured_props,
                &mut errors,
            )
            .await?;
        if !errors.is_empty() {
            return Err(Error::InvalidProps(errors));
        }
        let app = self.app(&c.app)?;
        let account = accounts
            .iter()
            .find(|(_, a)| a.app == c.app)
            .map(|(_, a)| a);
        let access = self.accounts.account_access(t, account).await?;
        let timeout = action::timeout(c);
        let mut s = Session::new(
            &self.outbound,
            app,
            access.creds.clone(),
            access.refresher(),
            timeout,
        );
        s.idempotent = c.annotations.idempotent_hint;
        let ctx = props_context(&props, &req.configured_props);
        let result = tokio::time::timeout(timeout, action::run(&mut s, c, ctx))
            .await
            .unwrap_or(Err(RunError::Timeout(timeout)));
        // Metered once it ran, whatever the outcome (see `usage.rs`).
        self.count_usage(t, Metric::ActionRun, 1).await;
        match result {
            Ok(mut out) => {
                if let Some(file) = out.file.take() {
                    match self.stash(t, file).await? {
                        Ok(reference) => out.ret = reference,
                        Err(m) => {
                            return Ok(Err(ActionFailure::new(
                                FailureCode::TooLarge,
                                m,
                                Value::Null,
                                &s.observations,
                            )));
                        }
                    }
                }
                Ok(Ok(RunOutput {
                    exports: out.exports,
                    ret: out.ret,
                    os: observations(&s),
                }))
            }
            Err(e) => {
                s.log_error("ActionError", &e.to_string());
                Ok(Err(failure(e, &s)?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODES: [FailureCode; 8] = [
        FailureCode::Blocked,
        FailureCode::TooLarge,
        FailureCode::StepFailed,
        FailureCode::Timeout,
        FailureCode::AuthError,
        FailureCode::TemplateError,
        FailureCode::Unreachable,
        FailureCode::InvalidRequest,
    ];

    #[test]
    fn failure_codes_keep_their_names() {
        let names: Vec<_> = CODES.iter().map(FailureCode::as_str).collect();
        assert_eq!(
            names,
            [
                "blocked",
                "too_large",
                "step_failed",
                "timeout",
                "auth_error",
                "template_error",
                "unreachable",
                "invalid_request"
            ]
        );
        for c in CODES {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }

    /// An outcome kept by an older version (code as a string) replays the
    /// same, and is written back in the same shape.
    #[test]
    fn kept_failure_reads_and_writes_the_same() {
        for c in CODES {
            let kept = json!({
                "state": "done",
                "fingerprint": "f",
                "outcome": {"Err": {
                    "message": "m", "code": c.as_str(), "details": {"step": "s"}, "os": [],
                }},
            });
            let r: Remembered = serde_json::from_value(kept.clone()).unwrap();
            let Remembered::Done {
                outcome: Err(f), ..
            } = &r
            else {
                panic!("a kept failure: {r:?}")
            };
            assert_eq!(f.code, c);
            assert_eq!(serde_json::to_value(&r).unwrap(), kept);
        }
    }
}
