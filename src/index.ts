// Public entry: the shared error types; each subsystem has its own entry (colony/transfer, colony/swarm, colony/live).
export { ColonyError, UsageError, ForbiddenTargetError, PathEscapeError, isColonyError } from './shared/errors.ts'
