// SidecarError (HTTP-style status) -> gRPC status code, the mapping gRPC's own HTTP guidance
// gives: 400 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 NOT_FOUND,
// 413 and 429 RESOURCE_EXHAUSTED, 501 UNIMPLEMENTED, 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED (and
// 408, a request message that did not arrive in time),
// anything else >= 500 INTERNAL. The access log and metrics keep the HTTP-style number, so one
// dashboard and one alert cover both front ends.

import { status as Status } from '@grpc/grpc-js';

export function grpcStatusOf(httpStatus: number): Status {
  switch (httpStatus) {
    case 400:
    case 415:
      return Status.INVALID_ARGUMENT;
    case 401:
      return Status.UNAUTHENTICATED;
    case 403:
      return Status.PERMISSION_DENIED;
    case 404:
      return Status.NOT_FOUND;
    case 413:
    case 429:
      return Status.RESOURCE_EXHAUSTED;
    case 408:
      return Status.DEADLINE_EXCEEDED;
    case 499:
      return Status.CANCELLED;
    case 501:
      return Status.UNIMPLEMENTED;
    case 503:
      return Status.UNAVAILABLE;
    case 504:
      return Status.DEADLINE_EXCEEDED;
    default:
      return httpStatus >= 400 && httpStatus < 500 ? Status.FAILED_PRECONDITION : Status.INTERNAL;
  }
}
