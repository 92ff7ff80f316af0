/** Registers ./record-modules.mjs, writing to the file that RECORD_MODULES_TO names. */
import { register } from 'node:module';
import process from 'node:process';
import { URL } from 'node:url';

register(new URL('./record-modules.mjs', import.meta.url), { data: process.env.RECORD_MODULES_TO });
