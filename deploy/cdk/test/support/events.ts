/** CloudFormation custom resource events as the CDK Provider framework hands them to handlers. */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type { HandlerDeps } from '../../lambda/ports';
import { isComplete, onEvent, type OnEventResult } from '../../lambda/key-store-handler';

const base = {
  ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
  ResponseURL: 'https://cloudformation-custom-resource-response.example/',
  StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/XksProxy/00000000-0000-0000-0000-000000000000',
  ResourceType: 'Custom::Test',
};

type Props = Record<string, string>;

export function createEvent(logicalId: string, props: Props, requestId = 'req-create'): CloudFormationCustomResourceEvent {
  return {
    ...base,
    RequestType: 'Create',
    RequestId: requestId,
    LogicalResourceId: logicalId,
    ResourceProperties: { ServiceToken: base.ServiceToken, ...props },
  };
}

export function updateEvent(logicalId: string, physicalId: string, props: Props, oldProps: Props, requestId = 'req-update'): CloudFormationCustomResourceEvent {
  return {
    ...base,
    RequestType: 'Update',
    RequestId: requestId,
    LogicalResourceId: logicalId,
    PhysicalResourceId: physicalId,
    ResourceProperties: { ServiceToken: base.ServiceToken, ...props },
    OldResourceProperties: { ServiceToken: base.ServiceToken, ...oldProps },
  };
}

export function deleteEvent(logicalId: string, physicalId: string, props: Props, requestId = 'req-delete'): CloudFormationCustomResourceEvent {
  return {
    ...base,
    RequestType: 'Delete',
    RequestId: requestId,
    LogicalResourceId: logicalId,
    PhysicalResourceId: physicalId,
    ResourceProperties: { ServiceToken: base.ServiceToken, ...props },
  };
}

/**
 * What the Provider framework does with onEvent + isComplete: call onEvent, then poll
 * isComplete (with onEvent's result merged into the event) every queryInterval until it
 * says complete or throws. The clock is the handler's, moved by hand: no real waiting.
 */
export async function runKeyStoreEvent(
  event: CloudFormationCustomResourceEvent,
  deps: HandlerDeps & { clock: { ms: number } },
  options: { intervalSeconds?: number; maxPolls?: number } = {},
): Promise<OnEventResult & { polls: number }> {
  const started = await onEvent(event, deps);
  const pollEvent = { ...event, ...started };
  const maxPolls = options.maxPolls ?? 1000;
  for (let polls = 1; polls <= maxPolls; polls++) {
    deps.clock.ms += (options.intervalSeconds ?? 20) * 1000;
    const r = await isComplete(pollEvent, deps);
    if (r.IsComplete) return { ...started, Data: { ...started.Data, ...r.Data }, polls };
  }
  throw new Error(`not complete after ${maxPolls} polls`);
}
