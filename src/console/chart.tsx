import type { EventStatus } from "../db/events";
import { EVENT_STATUSES } from "../db/events";

/** One bar of a stacked chart: a label and the events per status in its period. */
export interface ChartBar {
  label: string;
  /** Shown under the bar; empty to keep the axis readable. */
  tick: string;
  counts: Partial<Record<EventStatus, number>>;
}

const HEIGHT = 120;
const GAP = 4;
/** Room under the bars for the ticks and the x-axis label. */
const AXIS = 30;
/** Room left of the bars for the y-axis label and its scale. */
const LEFT = 28;

function total(counts: ChartBar["counts"]): number {
  return Object.values(counts).reduce((sum, count) => sum + (count ?? 0), 0);
}

/**
 * A server-rendered stacked bar chart of events by status. Screen readers get its summary from the
 * SVG's title and description; every bar has a title with its numbers, and the page shows the same
 * totals in a table beside it.
 */
export function StatusChart({
  id,
  title,
  bars,
  barWidth,
  xLabel,
}: {
  id: string;
  title: string;
  bars: ChartBar[];
  /** Wide enough for the bar's tick label. */
  barWidth: number;
  /** What the bars stand for, under the x axis (e.g. "hour, clinic time"). */
  xLabel: string;
}) {
  const peak = Math.max(1, ...bars.map((bar) => total(bar.counts)));
  const width = LEFT + bars.length * (barWidth + GAP);
  const sum = bars.reduce((all, bar) => all + total(bar.counts), 0);
  return (
    <figure class="chart-figure">
      <figcaption class="chart-title">{title}</figcaption>
      <svg
        class="chart"
        id={id}
        viewBox={`0 0 ${width} ${HEIGHT + AXIS}`}
        width={width * 2}
        height={(HEIGHT + AXIS) * 2}
        role="img"
        aria-labelledby={`${id}-title ${id}-desc`}
      >
        <title id={`${id}-title`}>{title}</title>
        <desc id={`${id}-desc`}>{`${sum} events in ${bars.length} bars; the table below lists them by status.`}</desc>
        <text
          class="axis axis-label"
          x={8}
          y={HEIGHT / 2}
          text-anchor="middle"
          transform={`rotate(-90 8 ${HEIGHT / 2})`}
        >
          events
        </text>
        <text class="axis" x={LEFT - 4} y={10} text-anchor="end">
          {peak}
        </text>
        <text class="axis" x={LEFT - 4} y={HEIGHT} text-anchor="end">
          0
        </text>
        <text class="axis axis-label" x={LEFT + (width - LEFT) / 2} y={HEIGHT + AXIS - 2} text-anchor="middle">
          {xLabel}
        </text>
        {bars.map((bar, index) => {
          let top = HEIGHT;
          const x = LEFT + index * (barWidth + GAP);
          const summary = EVENT_STATUSES.filter((status) => bar.counts[status])
            .map((status) => `${bar.counts[status]} ${status}`)
            .join(", ");
          return (
            <g>
              <title>{`${bar.label}: ${summary || "no events"}`}</title>
              {EVENT_STATUSES.filter((status) => bar.counts[status]).map((status) => {
                const height = ((bar.counts[status] ?? 0) / peak) * (HEIGHT - 4);
                top -= height;
                return <rect class={`bar-${status}`} x={x} y={top} width={barWidth} height={height} />;
              })}
              {bar.tick && (
                <text class="axis" x={x + barWidth / 2} y={HEIGHT + 12} text-anchor="middle">
                  {bar.tick}
                </text>
              )}
            </g>
          );
        })}
        <line class="baseline" x1={LEFT} y1={HEIGHT} x2={width} y2={HEIGHT} />
        <line class="baseline" x1={LEFT} y1={0} x2={LEFT} y2={HEIGHT} />
      </svg>
    </figure>
  );
}
