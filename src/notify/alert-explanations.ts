/**
 * Why an alert rule fired, in plain words, the setting behind it and what to do: the console's alerts
 * page and docs/operations.md's "Reasons and what to do" table (rendered by ./explanations.ts).
 */

interface AlertRuleEntry {
  rule: string;
  /** For rules named after a state or status (`order:created`, `event_dead`). */
  matches?: (rule: string) => boolean;
  sentence: string;
  setting: string;
  action: string;
}

export const ALERT_RULE_ENTRIES: readonly AlertRuleEntry[] = [
  {
    rule: "medication_request:approved",
    sentence: "a medication request was approved but no order followed in time",
    setting: "LIFECYCLE_RULES (medication_request:approved, default 24h)",
    action: "ask NovaMed about the order; acknowledge once someone is on it",
  },
  {
    rule: "order:shipped",
    sentence: "a shipped order was not delivered by its estimated date plus the margin",
    setting: "LIFECYCLE_RULES (order:shipped, default eta+2d)",
    action: "check the carrier's tracking; ask NovaMed if the parcel is lost",
  },
  {
    rule: "order:* / refill:*",
    matches: (rule) => /^(order|refill):/.test(rule),
    sentence: "an order or refill stayed in one status longer than its rule allows",
    setting: "LIFECYCLE_RULES (order:created 72h, order:processing 72h, refill:requested 48h)",
    action: "ask NovaMed why it is stuck; acknowledge once someone is on it",
  },
  {
    rule: "novamed_silence",
    sentence: "NovaMed sent this clinic no event for longer than allowed",
    setting: "NOVAMED_SILENCE_ALERT (default 24h)",
    action: "check the webhook registration (npm run novamed) and the refused deliveries on the overview",
  },
  {
    rule: "webhook_rejections",
    sentence: "many webhook deliveries were refused in a short time (a key rotated on one side only?)",
    setting: "LIFECYCLE_RULES (webhook_rejections, default 20/15m)",
    action: "see the reasons on the overview; fix the key or clinic id on NovaMed's or our side",
  },
  {
    rule: "event_dead / event_failed / event_invalid",
    matches: (rule) => rule.startsWith("event_"),
    sentence: "an event could not be applied (its issues or last error say why)",
    setting: "none",
    action: "open the event, fix the cause (data, directory, configuration), then replay it",
  },
  {
    rule: "notification_held / notification_failed",
    matches: (rule) => rule.startsWith("notification_"),
    sentence: "a patient message is held or failed",
    setting: "the variable or provider its reason names",
    action: "open its event: the reason says what to fix; then send or replay it",
  },
  {
    rule: "config_problem",
    sentence: "a setting cannot be read, so the jobs that need it are skipped",
    setting: "the variable in the alert's target",
    action: "fix the variable (GET /admin/health names the problem); the alert resolves on the next run",
  },
  {
    rule: "clinic_mismatch",
    sentence: "an event names an entity that belongs to another clinic",
    setting: "none",
    action: "ask NovaMed about the event; it was not applied",
  },
  {
    rule: "patient_replied",
    sentence: "a patient texted something that is neither a keyword nor an opt-out",
    setting: "none",
    action: "an operator opens the reply (its text, audited) and answers the patient; then acknowledge",
  },
];

/** Why an alert rule fires and what to do; a generic text for a rule this table does not know. */
export function explainAlertRule(rule: string): { sentence: string; setting: string; action: string } {
  const entry =
    ALERT_RULE_ENTRIES.find((candidate) => !candidate.matches && candidate.rule === rule) ??
    ALERT_RULE_ENTRIES.find((candidate) => candidate.matches?.(rule));
  return entry ?? { sentence: `the ${rule} rule fired`, setting: "none", action: "see docs/watch.md" };
}

/** docs/operations.md's "Reasons and what to do" table of alert rules, as this module says them. */
export function alertRuleTableMarkdown(): string {
  const cell = (text: string) => text.replaceAll("|", "\\|");
  const rows = ALERT_RULE_ENTRIES.map(
    (entry) => `| \`${cell(entry.rule)}\` | ${cell(entry.sentence)} | ${cell(entry.setting)} | ${cell(entry.action)} |`,
  );
  return ["| alert rule | what happened | setting | what to do |", "|---|---|---|---|", ...rows].join("\n");
}
