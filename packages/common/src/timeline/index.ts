// @ferry/common/timeline: a backup window drawn as SVG. No Node APIs: a browser can load it.

export { NO_DATASTORE, planTimeline } from "./plan-timeline.js";
export type {
  Timeline,
  TimelineDatastore,
  TimelineLoadStep,
  TimelineSvgOptions,
  TimelineTask,
} from "./timeline.js";
export { renderTimelineSvg } from "./timeline-svg.js";
