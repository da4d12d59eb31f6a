import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { html } from './html';

/** Colors of the series, readable on light and dark backgrounds. */
const PALETTE = ['#5b6bf5', '#e8710a', '#1e8e3e', '#d93025', '#9334e6', '#12b5cb', '#f9ab00', '#e52592'];

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/** A time chart (uPlot): `x` in seconds, one line per series; redrawn in place when the data changes. */
export function Chart(props: {
  title: string;
  x: number[];
  series: { label: string; values: (number | null)[] }[];
  unit: string;
  theme: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const labels = props.series.map((s) => s.label).join('\n');
  const data = [props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData;

  // A new chart when the series or the theme change (deps); otherwise only new data.
  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--grid'), width: 1 }, ticks: { stroke: cssVar('--grid') } };
    const chart = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height: 160,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: { y: { range: (_u, min, max) => [0, Math.max(max, min + 1)] } },
        axes: [axis, { ...axis, size: 50, values: (_u, ticks) => ticks.map((t) => `${+t.toFixed(2)}${props.unit}`) }],
        series: [{}, ...props.series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true }))],
      },
      data,
      el,
    );
    plot.current = chart;
    const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(200, el.clientWidth), height: 160 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, [labels, props.theme]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return html`<figure class="chart">
    <figcaption>${props.title}</figcaption>
    <div ref=${box} class="plot"></div>
  </figure>`;
}
