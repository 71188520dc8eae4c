/**
 * The console's one stylesheet, served at /console/assets/console.css. Status colours always
 * accompany the status text, and every pair here meets WCAG AA contrast.
 */
export const CONSOLE_CSS = `
:root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #f6f8fa; --link: #0550ae; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #fff; }
a { color: var(--link); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
.skip-link { position: absolute; left: -999px; top: 0; background: #fff; padding: 8px; }
.skip-link:focus { left: 8px; }
.site-header { display: flex; flex-wrap: wrap; gap: 16px; align-items: center; padding: 10px 24px; background: #24292f; color: #fff; }
.site-header a { color: #fff; margin-right: 16px; font-weight: 600; }
/* The links carry no spaces between them (JSX), so the nav wraps as a flex row, never past a phone's width. */
.site-header nav { display: flex; flex-wrap: wrap; row-gap: 4px; min-width: 0; }
.brand { font-weight: 700; margin-right: 24px; }
.sign-out { margin-left: auto; display: flex; gap: 12px; align-items: center; }
.site-search { display: flex; gap: 6px; align-items: center; } .site-search input { width: 18em; max-width: 100%; min-width: 0; }
.actor { color: #d0d7de; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 1.6rem; margin: 8px 0 16px; overflow-wrap: normal; }
h2 { font-size: 1.2rem; margin: 28px 0 8px; }
/* A table wider than the page scrolls in its own box, so the page itself never scrolls sideways. */
table { border-collapse: collapse; width: 100%; margin: 8px 0; display: block; max-width: 100%; overflow-x: auto; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.9em; }
.mono, h1 { white-space: nowrap; }
.muted, .age { color: var(--muted); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 12px; background: var(--bg); }
.card strong { display: block; font-size: 1.6rem; }
.card .window { display: block; color: var(--muted); font-size: 0.85em; }
.card .reasons { margin: 6px 0 0; padding-left: 18px; font-size: 0.9em; }
.reason p { margin: 2px 0; }
.reason form { margin-top: 4px; }
nav.tabs { display: flex; flex-wrap: wrap; gap: 4px; border-bottom: 1px solid var(--line); margin: 8px 0 16px; }
nav.tabs a { padding: 6px 14px; border: 1px solid transparent; border-bottom: none; border-radius: 6px 6px 0 0; text-decoration: none; }
nav.tabs a[aria-current="page"] { border-color: var(--line); background: #fff; color: var(--ink); font-weight: 700; margin-bottom: -1px; box-shadow: inset 0 3px 0 #0969da; }
/* A patient's own words, as written: line breaks kept, a long word or link broken rather than overflowing. */
.reply-text { white-space: pre-wrap; overflow-wrap: anywhere; margin: 8px 0; padding: 8px 12px; border-left: 3px solid var(--line); background: var(--bg); }
.payload { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 0 12px; overflow-x: auto; max-width: 100%; }
.card.attention { border-color: #cf222e; background: #fff0f0; }
#clinic-cards .card > * { display: block; margin-top: 4px; }
.status { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 0.85em; font-weight: 600; border: 1px solid transparent; }
.status-processed, .status-success, .status-sent, .status-delivered, .status-shipped, .status-approved, .status-filled { background: #dafbe1; color: #116329; border-color: #4ac26b; }
.status-queued, .status-processing, .status-pending, .status-scheduled, .status-created, .status-requested { background: #ddf4ff; color: #0a3069; border-color: #54aeff; }
.status-ignored, .status-suppressed, .status-superseded, .status-cancelled, .status-denied { background: #eaeef2; color: #24292f; border-color: #afb8c1; }
.status-invalid, .status-held, .status-not_found, .status-rejected { background: #fff8c5; color: #6b4b00; border-color: #d4a72c; }
.status-failed, .status-dead, .status-error { background: #ffebe9; color: #a40e26; border-color: #ff8182; }
.chart { display: block; max-width: 100%; height: auto; }
.chart-figure { margin: 12px 0; }
.chart-title { font-weight: 600; margin-bottom: 4px; }
.chart .axis-label { font-style: italic; }
.chart .bar-processed { fill: #2da44e; } .chart .bar-queued, .chart .bar-processing { fill: #54aeff; }
.chart .bar-ignored { fill: #8c959f; } .chart .bar-invalid { fill: #d4a72c; }
.chart .bar-failed { fill: #fa4549; } .chart .bar-dead { fill: #82071e; }
.chart .axis { fill: #57606a; font-size: 10px; } .chart .baseline { stroke: #8c959f; }
.legend { display: flex; flex-wrap: wrap; gap: 8px; list-style: none; padding: 0; margin: 4px 0; }
form.filters { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-end; margin: 8px 0 16px; }
form.filters label, form.stacked label { display: flex; flex-direction: column; font-weight: 600; font-size: 0.9em; }
input, select, button { font: inherit; padding: 4px 8px; border: 1px solid #8c959f; border-radius: 4px; background: #fff; color: var(--ink); }
button { background: #0969da; border-color: #0969da; color: #fff; font-weight: 600; cursor: pointer; }
button.secondary { background: #fff; color: #0969da; }
button.danger { background: #cf222e; border-color: #cf222e; }
.notice { padding: 8px 12px; border-radius: 6px; border: 1px solid var(--line); }
.notice-error { background: #ffebe9; border-color: #ff8182; color: #82071e; }
.notice-info { background: #ddf4ff; border-color: #54aeff; color: #0a3069; }
.timeline { list-style: none; padding: 0; border-left: 3px solid var(--line); margin-left: 8px; }
.timeline li { padding: 4px 0 8px 16px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
.pager { display: flex; gap: 16px; margin: 12px 0; }
.inline { display: inline; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
label.select { display: inline-block; padding: 2px; }
label.select input { width: 18px; height: 18px; margin: 0; }
.bulk-actions { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; margin: 8px 0; }
.bulk-actions p { margin: 0; }
.warnings li { margin: 2px 0; }
#audit td:first-child { white-space: nowrap; }
/* Narrow screens (a phone at 390 px): the page never scrolls sideways; a wide table scrolls in its own box. */
@media (max-width: 760px) {
  .site-header { padding: 8px 12px; gap: 8px; }
  .site-header a { margin-right: 10px; }
  .sign-out { margin-left: 0; flex-wrap: wrap; }
  .site-search { width: 100%; } .site-search input { flex: 1 1 0; width: auto; }
  main { padding: 12px 12px 32px; }
  h1 { font-size: 1.15rem; white-space: normal; }
  dl.facts { grid-template-columns: 1fr; }
  dl.facts dd { margin-bottom: 6px; overflow-x: auto; }
  form.filters > * { max-width: 100%; }
  input, select { max-width: 100%; }
}
`;

/** The favicon, so browsers do not request a missing /favicon.ico. */
export const CONSOLE_ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0969da"/><path d="M4 12V4l8 8V4" stroke="#fff" stroke-width="2" fill="none"/></svg>`;
