// Moved to shared/ (the host needs it too); kept until leaks/check.ts imports it from there.
export { isWatchdogCode } from '../shared/own-files.js'
