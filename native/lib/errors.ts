// Typed errors of the native predictor. The addon throws plain errors carrying a `code`;
// toPaddleError() turns them into these classes (TypeError/RangeError pass through).

export class PaddleError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'PaddleError';
  }
}

export class ModelVerificationError extends PaddleError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_MODEL_VERIFICATION', message, options);
    this.name = 'ModelVerificationError';
  }
}

export class ModelFormatError extends PaddleError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_MODEL_FORMAT', message, options);
    this.name = 'ModelFormatError';
  }
}

export class UnsupportedOpError extends PaddleError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_UNSUPPORTED_OP', message, options);
    this.name = 'UnsupportedOpError';
  }
}

export class ShapeError extends PaddleError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SHAPE', message, options);
    this.name = 'ShapeError';
  }
}

export class MemoryLimitError extends PaddleError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_MEMORY_LIMIT', message, options);
    this.name = 'MemoryLimitError';
  }
}

const byCode: Record<string, new (message: string, options?: { cause?: unknown }) => PaddleError> = {
  ERR_MODEL_VERIFICATION: ModelVerificationError,
  ERR_MODEL_FORMAT: ModelFormatError,
  ERR_UNSUPPORTED_OP: UnsupportedOpError,
  ERR_SHAPE: ShapeError,
  ERR_MEMORY_LIMIT: MemoryLimitError,
};

/** Maps an error thrown by the addon to the public error classes. */
export function toPaddleError(err: unknown): unknown {
  if (err instanceof TypeError || err instanceof RangeError || err instanceof PaddleError) return err;
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    if (typeof code === 'string') {
      const Cls = byCode[code];
      return Cls ? new Cls(err.message, { cause: err }) : new PaddleError(code, err.message, { cause: err });
    }
  }
  return err;
}
