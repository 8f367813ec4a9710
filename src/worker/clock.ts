// Moved to shared/ (the host's ladder uses it too); kept until leaks/check.ts imports it from there.
export * from '../shared/clock.js'
