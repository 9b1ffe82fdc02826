// The model configuration in Triton's ModelConfig shape (model_config.proto field names), for
// REST `GET /v2/models/{m}/config` and the gRPC ModelConfig call: what the loaded predictor
// declares (names, datatypes, dims), the platform, and the batching the server applies.
// When dynamic batching is on, `max_batch_size` is its maximum and `dims` leave out the batch
// dimension (Triton's convention); otherwise `max_batch_size` is 0 and `dims` are the full shape.

import type { TensorInfo } from './predictor.js';
import { toOipDatatype } from './tensor-codec.js';

export interface BatchingView {
  maxBatchSize: number;
  maxQueueDelayMicroseconds: number;
  preferredBatchSizes: number[];
}

export interface TensorConfig {
  name: string;
  data_type: string;
  dims: number[];
}

export interface ModelConfigJson {
  name: string;
  platform: string;
  backend: string;
  max_batch_size: number;
  input: TensorConfig[];
  output: TensorConfig[];
  dynamic_batching?: { preferred_batch_size: number[]; max_queue_delay_microseconds: number };
}

export function modelConfig(name: string, format: string, inputs: TensorInfo[], outputs: TensorInfo[], batching?: BatchingView): ModelConfigJson {
  const tensor = (t: TensorInfo): TensorConfig => ({
    name: t.name,
    data_type: `TYPE_${toOipDatatype(t.dtype)}`,
    dims: batching ? t.shape.slice(1) : [...t.shape],
  });
  const c: ModelConfigJson = {
    name,
    platform: `paddle_${format}`,
    backend: 'paddle',
    max_batch_size: batching ? batching.maxBatchSize : 0,
    input: inputs.map(tensor),
    output: outputs.map(tensor),
  };
  if (batching) c.dynamic_batching = { preferred_batch_size: [...batching.preferredBatchSizes], max_queue_delay_microseconds: batching.maxQueueDelayMicroseconds };
  return c;
}
