// Child process for the log sink test: writes records through the pod's stdout sinks, then
// leaves the way argv[2] says (exit: process.exit right away; throw: an uncaught exception;
// drain: the event loop runs dry), so the test can check no line was lost on the way out.
import { createLoggers, processSinks } from '../../src/logging.js';

const loggers = createLoggers({ service: 'exit-test', sinks: processSinks() });
const count = Number(process.argv[3] ?? 3);
for (let i = 0; i < count; i++) loggers.info({ trace_id: 'a'.repeat(32), '@log.kind': 'event', n: i }, 'line');
const how = process.argv[2];
if (how === 'exit') process.exit(0);
if (how === 'throw') throw new Error('deliberate crash after logging');
