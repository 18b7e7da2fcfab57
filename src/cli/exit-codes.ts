/** Every file verified / the command did its job. */
export const EXIT_OK = 0
/** The job ran but something is missing, failed or unverified (see the report). */
export const EXIT_FAILURE = 1
/** Bad flags or arguments: nothing was done. */
export const EXIT_USAGE = 2
