// The swarm tracker's public surface (re-exported by src/swarm/index.ts).
export { startTracker, type Tracker, type TrackerOptions, type TrackerStats } from './start-tracker.ts'
