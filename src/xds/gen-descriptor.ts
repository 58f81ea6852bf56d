// Writes proto/xds-descriptor.json from the .proto files (`npm run gen:descriptor`).
// Run it after changing PROTO_FILES in codec.ts; test/xds/descriptor.test.ts checks it is current.
import fs from 'node:fs';
import { DESCRIPTOR_FILE, descriptorJson } from './codec.js';

fs.writeFileSync(DESCRIPTOR_FILE, descriptorJson());
console.log(`wrote ${DESCRIPTOR_FILE}`);
