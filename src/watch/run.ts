import { configProblems } from "../config/health";
import { ConfigError } from "../config/read";
import { type LifecycleState, readWatchSettings, SHIPPED_WITHOUT_ETA_MS, type WatchSettings } from "../config/watch";
import { readWebhookConfig } from "../config/webhook";
import { minuteKey } from "../db/rejections";
import {
  approvedWithoutOrder,
  clinicSilence,
  configProblemsQuery,
  eventsInStatus,
  notificationsInStatus,
  openAlertsStatement,
  resolveAlertsStatement,
  resolveRuleStatement,
  shippedNotDelivered,
  stillInStatus,
  type WatchQuery,
  webhookRejections,
} from "../db/watch";
import { log } from "../log";
import { deliverAlerts } from "./alert-delivery";

/** Alerts a rule may open per run; a larger backlog opens over the next runs (every 5 minutes). */
export const ALERTS_PER_RULE_PER_RUN = 100;

/** A rule to evaluate, or a rule that is off (its open alerts resolve). */
type RulePlan = WatchQuery | { off: string };

/** The rules that need the watch settings: the lifecycle states and the clinic silence. */
function settingsRules(settings: WatchSettings, clinicIds: readonly string[] | null, now: Date): RulePlan[] {
  const rule = (name: LifecycleState, build: (afterMs: number, fromEta: boolean) => WatchQuery): RulePlan => {
    const threshold = settings.lifecycle.get(name);
    return threshold ? build(threshold.afterMs, threshold.fromEta) : { off: name };
  };
  const plans: RulePlan[] = [
    rule("medication_request:approved", (afterMs) => approvedWithoutOrder(now, afterMs)),
    rule("order:created", (afterMs) => stillInStatus("orders", "created", now, afterMs)),
    rule("order:processing", (afterMs) => stillInStatus("orders", "processing", now, afterMs)),
    rule("order:shipped", (afterMs, fromEta) => shippedNotDelivered(now, afterMs, fromEta, SHIPPED_WITHOUT_ETA_MS)),
    rule("refill:requested", (afterMs) => stillInStatus("refills", "requested", now, afterMs)),
  ];
  plans.push(
    settings.rejections === null
      ? { off: "webhook_rejections" }
      : webhookRejections(minuteKey(new Date(now.getTime() - settings.rejections.windowMs)), settings.rejections.count),
  );
  // Without a readable clinic list there is nothing to measure silence against: leave its alerts be.
  if (clinicIds) {
    plans.push(
      settings.silenceMs === null ? { off: "novamed_silence" } : clinicSilence(now, settings.silenceMs, clinicIds),
    );
  }
  return plans;
}

function readOrNull<T>(read: () => T): T | null {
  try {
    return read();
  } catch (error) {
    if (error instanceof ConfigError) return null;
    throw error;
  }
}

/**
 * Evaluates every rule at `now` in one D1 batch: per rule, resolve the open alerts whose target moved
 * on, then open alerts for targets that offend and have none open (bounded per rule, through
 * indexes). Lifecycle and silence rules need valid watch settings; when those are broken they are
 * skipped and the configuration rule reports why.
 */
export async function evaluateRules(env: Env, now: Date): Promise<{ opened: number; resolved: number }> {
  const settings = readOrNull(() => readWatchSettings(env));
  const clinicIds = readOrNull(() => [...readWebhookConfig(env).clinicIds]);
  const plans: RulePlan[] = [
    ...(settings ? settingsRules(settings, clinicIds, now) : []),
    eventsInStatus("dead"),
    eventsInStatus("invalid"),
    notificationsInStatus("failed"),
    notificationsInStatus("held"),
    configProblemsQuery(configProblems(env).map((problem) => problem.variable)),
  ];
  const statements = plans.flatMap((plan) =>
    "off" in plan
      ? [{ opens: false, statement: resolveRuleStatement(env.DB, plan.off, now) }]
      : [
          { opens: false, statement: resolveAlertsStatement(env.DB, plan, now) },
          { opens: true, statement: openAlertsStatement(env.DB, plan, now, ALERTS_PER_RULE_PER_RUN) },
        ],
  );
  const results = await env.DB.batch(statements.map((entry) => entry.statement));
  let opened = 0;
  let resolved = 0;
  results.forEach((result, index) => {
    if (statements[index]?.opens) opened += result.meta.changes;
    else resolved += result.meta.changes;
  });
  return { opened, resolved };
}

/** The 5-minute watch: evaluate the rules, then tell staff about new alerts (and the daily digest). */
export async function runLifecycleWatch(env: Env, now: Date): Promise<void> {
  const { opened, resolved } = await evaluateRules(env, now);
  let delivery = { told: 0, digests: 0 };
  try {
    delivery = await deliverAlerts(env, now);
  } catch (error) {
    // A malformed ALERT_* variable: the alerts wait (open, untold) and the config rule reports it.
    if (!(error instanceof ConfigError)) throw error;
    log.warn("alerts not delivered", { variable: error.variable });
  }
  log.info("lifecycle watch", { opened, resolved, ...delivery });
}
