/**
 * Regression (found in review, fixed in a95f544): a same-host redirect whose Location carries user
 * information made fetch throw with the query key in its message.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  API_KEY,
  everyForm,
  leaks,
  openProfiles,
  redirect,
  type StandIn,
  standardProfiles,
  startStandIn,
} from '../harness.js';

let api: StandIn;
beforeAll(async () => {
  api = await startStandIn('api');
});
afterAll(async () => {
  await api?.close();
});

test('a Location with user:pass@ on a listed host is refused; the query api_key is in no error', async () => {
  api.route('/start', redirect(302, `http://u:p@${api.host}/landing`));
  const { credentials } = openProfiles(standardProfiles(api.host), fetch as never);
  const error = await credentials.fetch('weather_query', `${api.origin}/start`).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeDefined();
  expect(leaks(everyForm(error))).toEqual([]);
  void API_KEY;
});

test('a caller URL with user info is refused before anything is sent; no key in the error', async () => {
  const { credentials } = openProfiles(standardProfiles(api.host), fetch as never);
  const error = await credentials.fetch('weather_query', `http://u:p@${api.host}/x`).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(leaks(everyForm(error))).toEqual([]);
});
