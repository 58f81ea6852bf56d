// The committed protobuf descriptor (proto/xds-descriptor.json) must match the .proto
// files it is generated from; a stale one would decode xDS with old field sets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { DESCRIPTOR_FILE, descriptorJson, decode, encode, TYPE } from '../../src/xds/codec.js';

test('proto/xds-descriptor.json is current (regenerate with `npm run gen:descriptor`)', () => {
  assert.ok(fs.readFileSync(DESCRIPTOR_FILE, 'utf8') === descriptorJson(), 'the descriptor differs from the .proto files');
});

test('resources round-trip through the descriptor, typed configs inside Any included', () => {
  const listener = {
    name: 'virtualOutbound',
    address: { socketAddress: { address: '0.0.0.0', portValue: 15001 } },
    filterChains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typedConfig: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              statPrefix: 'outbound_0.0.0.0_15001',
              rds: { routeConfigName: 'http_proxy', configSource: { ads: {} } },
              httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
            },
          },
        ],
      },
    ],
  };
  assert.deepEqual(decode(TYPE.listener, encode(TYPE.listener, listener)), listener);
});
