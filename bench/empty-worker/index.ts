/**
 * The empty Worker: answers every request with the receiver's success body and reads nothing.
 * It does not even read the request body, so it is the floor of what the local runtime (proxy
 * worker, request logging, workerd's HTTP stack) costs per request.
 */
export default {
  fetch(): Response {
    return new Response('{"received":true}', { status: 200, headers: { "content-type": "application/json" } });
  },
};
