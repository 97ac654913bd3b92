import * as path from 'node:path';
import { Duration, IgnoreMode, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CONFIG_WRITER_SCRIPT } from './config-writer';

/** The repository root (deploy/cdk/lib -> ../../..), where the Dockerfile is. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/** Where the config directory and the data directory are in the image (Dockerfile VOLUMEs). */
const CONFIG_DIR = '/etc/xks-proxy';
const DATA_DIR = '/var/lib/xks-proxy';
/** The image's unprivileged user (Dockerfile: uid/gid 10001). */
const XKS_UID = 10001;

export interface XksProxyFleetProps {
  /** The VPC to run in; default: a new one over `maxAzs` Availability Zones with private subnets. */
  readonly vpc?: ec2.IVpc;
  /** For a new VPC: how many Availability Zones (at least 2). Default 2. */
  readonly maxAzs?: number;
  /** For a new VPC: these Availability Zones (no lookup at synth time). */
  readonly availabilityZones?: string[];
  /** For a given VPC: which subnets (private, two or more AZs). Default: the private subnets with egress. */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** For a new VPC: NAT gateways, for pulling the image and reaching AWS APIs. Default 1. */
  readonly natGateways?: number;
  /**
   * The container image. Default: built from the repository's Dockerfile at deploy time
   * (`ContainerImage.fromAsset`, needs Docker where `cdk deploy` runs).
   */
  readonly image?: ecs.ContainerImage;
  /** An image by URI instead (e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com/xks-proxy:1.0`). */
  readonly imageUri?: string;
  /**
   * Files the proxy reads from its config directory (/etc/xks-proxy), keyed by their path
   * relative to it: at least `xks-proxy.yaml`, usually the TLS chain and key. Each comes
   * from Secrets Manager or SSM Parameter Store (ecs.Secret); an init container writes them
   * to a task-local volume, so no file content is in the template or the task definition.
   */
  readonly configFiles: Record<string, ecs.Secret>;
  /**
   * Environment variables for `env:` references in the config (credential secrets,
   * keystore passphrase, PINs), each from Secrets Manager or SSM.
   */
  readonly secretEnvironment?: Record<string, ecs.Secret>;
  /** The TLS port of the proxy (`server.port`). Default 8443. */
  readonly containerPort?: number;
  /** The Prometheus port (`metrics.port`, with `metrics.host: 0.0.0.0`); not exposed unless `metricsPeer` is set. */
  readonly metricsPort?: number;
  /** Who may scrape metrics (e.g. your monitoring's security group or CIDR). Default: nobody. */
  readonly metricsPeer?: ec2.IPeer;
  /** Extra egress the proxy needs to reach its key manager (HSM, KMIP server), e.g. [{ peer, port: Port.tcp(5696) }]. */
  readonly keyManagerEgress?: ReadonlyArray<{ readonly peer: ec2.IPeer; readonly port: ec2.Port; readonly description?: string }>;
  /** Tasks; at least 2 so KMS keeps working while one is replaced. Default 2. */
  readonly desiredCount?: number;
  /** Fargate CPU units. Default 1024 (`serve --workers` follows it: one worker per vCPU). */
  readonly cpu?: number;
  /** Fargate memory. Default 2048 MiB. */
  readonly memoryLimitMiB?: number;
  /** The proxy's `shutdown.drainTimeoutMs`. Default 5 s (the proxy's default). */
  readonly drainTimeout?: Duration;
  /** ECS stopTimeout: must exceed the drain. Default drain + 10 s (Fargate allows up to 120 s). */
  readonly stopTimeout?: Duration;
  /** How long container logs are kept. Default one month. */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The NLB target health check. 'https-ping' (default) asks GET /ping over TLS; use 'tcp'
   * when the listener requires mTLS, where /ping needs a client certificate too.
   */
  readonly healthCheck?: 'https-ping' | 'tcp';
  /** Enable ECS Container Insights (CloudWatch charges per metric). Default true. */
  readonly containerInsights?: boolean;
}

/**
 * The xks-proxy fleet: an ECS service on Fargate in private subnets of two or more
 * Availability Zones, behind an internal Network Load Balancer that forwards TCP 443 to the
 * proxy's own TLS port (TLS, and mTLS, stay between KMS and the proxy).
 */
export class XksProxyFleet extends Construct {
  readonly vpc: ec2.IVpc;
  readonly cluster: ecs.Cluster;
  readonly service: ecs.FargateService;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly loadBalancer: elbv2.NetworkLoadBalancer;
  readonly targetGroup: elbv2.NetworkTargetGroup;
  readonly serviceSecurityGroup: ec2.SecurityGroup;
  readonly loadBalancerSecurityGroup: ec2.SecurityGroup;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: XksProxyFleetProps) {
    super(scope, id);
    const containerPort = props.containerPort ?? 8443;
    const desiredCount = props.desiredCount ?? 2;
    const drain = props.drainTimeout ?? Duration.seconds(5);
    const stopTimeout = props.stopTimeout ?? Duration.seconds(drain.toSeconds() + 10);
    const cpu = props.cpu ?? 1024;
    if (desiredCount < 2) throw new Error('XksProxyFleet: desiredCount must be at least 2 (KMS needs the fleet to survive one task being replaced)');
    if (stopTimeout.toSeconds() <= drain.toSeconds())
      throw new Error(
        `XksProxyFleet: stopTimeout (${stopTimeout.toSeconds()} s) must be longer than the drain (${drain.toSeconds()} s), or SIGKILL cuts requests in flight`,
      );
    if (stopTimeout.toSeconds() > 120) throw new Error('XksProxyFleet: Fargate allows a stopTimeout of at most 120 s');
    if (props.configFiles['xks-proxy.yaml'] === undefined) throw new Error('XksProxyFleet: configFiles must include xks-proxy.yaml');
    if (props.image !== undefined && props.imageUri !== undefined) throw new Error('XksProxyFleet: give image or imageUri, not both');
    for (const file of Object.keys(props.configFiles)) {
      if (path.posix.isAbsolute(file) || path.posix.normalize(file).startsWith('..'))
        throw new Error(`XksProxyFleet: config file ${file} must be a relative path inside ${CONFIG_DIR}`);
    }

    if (props.vpc !== undefined) {
      this.vpc = props.vpc;
    } else {
      const maxAzs = props.availabilityZones?.length ?? props.maxAzs ?? 2;
      if (maxAzs < 2) throw new Error('XksProxyFleet: maxAzs must be at least 2 (KMS requires the NLB in two or more Availability Zones)');
      const vpc = new ec2.Vpc(this, 'Vpc', {
        ...(props.availabilityZones !== undefined ? { availabilityZones: props.availabilityZones } : { maxAzs }),
        natGateways: props.natGateways ?? 1,
        subnetConfiguration: [
          { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
          { name: 'proxies', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        ],
      });
      vpc.addFlowLog('FlowLog', {
        destination: ec2.FlowLogDestination.toCloudWatchLogs(
          new logs.LogGroup(this, 'FlowLogGroup', {
            retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
            removalPolicy: RemovalPolicy.DESTROY,
          }),
        ),
        trafficType: ec2.FlowLogTrafficType.REJECT,
      });
      this.vpc = vpc;
    }
    const subnets = this.vpc.selectSubnets(props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
    const zones = new Set(subnets.subnets.map((s) => s.availabilityZone));
    if (zones.size < 2) throw new Error(`XksProxyFleet: the proxies' subnets span ${zones.size} Availability Zone(s); KMS needs the NLB in at least 2`);

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: this.vpc,
      containerInsightsV2: props.containerInsights === false ? ecs.ContainerInsights.DISABLED : ecs.ContainerInsights.ENABLED,
    });

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu,
      memoryLimitMiB: props.memoryLimitMiB ?? 2048,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      volumes: [{ name: 'config' }, { name: 'data' }],
    });

    const image =
      props.image ??
      (props.imageUri !== undefined
        ? ecs.ContainerImage.fromRegistry(props.imageUri)
        : ecs.ContainerImage.fromAsset(REPO_ROOT, {
            file: 'Dockerfile',
            // The task runs on X86_64 Fargate, whatever machine runs `cdk deploy`.
            platform: Platform.LINUX_AMD64,
            // Only what the Dockerfile copies: keeps the staged build context small.
            ignoreMode: IgnoreMode.DOCKER,
            exclude: ['*', '!Dockerfile', '!package.json', '!package-lock.json', '!.npmrc', '!tsconfig.json', '!bin', '!src', '!config'],
          }));

    // The init container writes each config file from its secret (delivered by ECS as an
    // environment variable, never stored in the task definition) into the task-local
    // volume, owned by the proxy's user and readable by it only. The file names go in as an
    // argument: they are not secret, and cdk-nag's ECS2 rule keeps plain environment
    // variables out of task definitions.
    const fileSecrets: Record<string, ecs.Secret> = {};
    const fileMap: Record<string, string> = {};
    Object.entries(props.configFiles).forEach(([file, secret], index) => {
      fileSecrets[`XKS_FILE_${index}`] = secret;
      fileMap[`XKS_FILE_${index}`] = path.posix.normalize(file);
    });
    const writer = this.taskDefinition.addContainer('config-writer', {
      image,
      essential: false,
      user: '0',
      entryPoint: ['node', '-e', CONFIG_WRITER_SCRIPT],
      command: [JSON.stringify(fileMap), CONFIG_DIR, DATA_DIR, String(XKS_UID)],
      secrets: fileSecrets,
      readonlyRootFilesystem: true,
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'config-writer' }),
    });
    writer.addMountPoints(
      { containerPath: CONFIG_DIR, sourceVolume: 'config', readOnly: false },
      { containerPath: DATA_DIR, sourceVolume: 'data', readOnly: false },
    );

    const proxy = this.taskDefinition.addContainer('xks-proxy', {
      image,
      essential: true,
      command: ['serve', '--workers', String(Math.max(1, Math.floor(cpu / 1024)))],
      secrets: props.secretEnvironment === undefined ? undefined : { ...props.secretEnvironment },
      readonlyRootFilesystem: true,
      stopTimeout,
      portMappings: [
        { containerPort, protocol: ecs.Protocol.TCP, name: 'xks' },
        ...(props.metricsPeer !== undefined ? [{ containerPort: props.metricsPort ?? 9464, protocol: ecs.Protocol.TCP, name: 'metrics' }] : []),
      ],
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'xks-proxy' }),
    });
    proxy.addMountPoints(
      { containerPath: CONFIG_DIR, sourceVolume: 'config', readOnly: true },
      { containerPath: DATA_DIR, sourceVolume: 'data', readOnly: false },
    );
    proxy.addContainerDependencies({ container: writer, condition: ecs.ContainerDependencyCondition.SUCCESS });

    this.loadBalancerSecurityGroup = new ec2.SecurityGroup(this, 'LoadBalancerSg', {
      vpc: this.vpc,
      description: 'xks-proxy NLB: TCP 443 from inside the VPC (KMS arrives through the endpoint service)',
      allowAllOutbound: false,
    });
    this.loadBalancerSecurityGroup.addIngressRule(ec2.Peer.ipv4(this.vpc.vpcCidrBlock), ec2.Port.tcp(443), 'XKS API from inside the VPC (xks-proxy doctor)');

    this.serviceSecurityGroup = new ec2.SecurityGroup(this, 'ServiceSg', {
      vpc: this.vpc,
      description: 'xks-proxy tasks: the XKS port from the NLB only; metrics only from the given peer',
      allowAllOutbound: false,
    });
    this.serviceSecurityGroup.addIngressRule(this.loadBalancerSecurityGroup, ec2.Port.tcp(containerPort), 'XKS API and health checks from the NLB');
    this.loadBalancerSecurityGroup.addEgressRule(this.serviceSecurityGroup, ec2.Port.tcp(containerPort), 'to the proxies');
    if (props.metricsPeer !== undefined) {
      this.serviceSecurityGroup.addIngressRule(props.metricsPeer, ec2.Port.tcp(props.metricsPort ?? 9464), 'Prometheus scrape');
    }
    // HTTPS out: ECR (image), Secrets Manager / SSM (secrets), CloudWatch Logs.
    this.serviceSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'AWS APIs: ECR, Secrets Manager, SSM, CloudWatch Logs');
    for (const rule of props.keyManagerEgress ?? []) {
      this.serviceSecurityGroup.addEgressRule(rule.peer, rule.port, rule.description ?? 'key manager');
    }

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount,
      // Fargate spreads a service's tasks over the Availability Zones of its subnets, and
      // rebalancing moves them back after a zone recovers.
      vpcSubnets: subnets,
      availabilityZoneRebalancing: ecs.AvailabilityZoneRebalancing.ENABLED,
      assignPublicIp: false,
      securityGroups: [this.serviceSecurityGroup],
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      healthCheckGracePeriod: Duration.seconds(60),
    });

    this.loadBalancer = new elbv2.NetworkLoadBalancer(this, 'Nlb', {
      vpc: this.vpc,
      internetFacing: false,
      vpcSubnets: subnets,
      crossZoneEnabled: true,
      securityGroups: [this.loadBalancerSecurityGroup],
      // KMS reaches the NLB through PrivateLink from addresses outside this VPC.
      enforceSecurityGroupInboundRulesOnPrivateLinkTraffic: false,
    });
    this.targetGroup = new elbv2.NetworkTargetGroup(this, 'Targets', {
      vpc: this.vpc,
      port: containerPort,
      protocol: elbv2.Protocol.TCP,
      targetType: elbv2.TargetType.IP,
      // ECS deregisters a stopping task and waits this long before SIGTERM: new connections go
      // to the other tasks at once, and 10 s is ample for calls KMS gives 250 ms; the proxy's
      // own drain then closes the connections KMS kept alive.
      deregistrationDelay: Duration.seconds(10),
      healthCheck:
        props.healthCheck === 'tcp'
          ? { protocol: elbv2.Protocol.TCP, interval: Duration.seconds(10), healthyThresholdCount: 2, unhealthyThresholdCount: 2 }
          : { protocol: elbv2.Protocol.HTTPS, path: '/ping', interval: Duration.seconds(10), healthyThresholdCount: 2, unhealthyThresholdCount: 2 },
    });
    this.targetGroup.addTarget(this.service.loadBalancerTarget({ containerName: 'xks-proxy', containerPort }));
    this.acknowledgeNagFindings();
    this.loadBalancer.addListener('Tcp443', { port: 443, protocol: elbv2.Protocol.TCP, defaultTargetGroups: [this.targetGroup] });
  }

  /** cdk-nag AwsSolutions findings that come with this design, each with its reason. */
  private acknowledgeNagFindings(): void {
    const ack = (scope: Construct, id: string, reason: string) => Validations.of(scope).acknowledge({ id, reason });
    ack(
      this.loadBalancer,
      'AwsSolutions-ELB2',
      'NLB access logs exist for TLS listeners only; this listener is TCP pass-through (TLS ends in the proxy, which logs every request and every refusal with its reason).',
    );
    ack(
      this.loadBalancerSecurityGroup,
      'AwsSolutions-EC23',
      'The only ingress rule is TCP 443 from the VPC CIDR (a token cdk-nag cannot resolve), not 0.0.0.0/0; KMS arrives through PrivateLink.',
    );
    ack(
      this.taskDefinition,
      'AwsSolutions-IAM5[Resource::*]',
      'The ECS execution role needs ecr:GetAuthorizationToken, which supports no resource-level permissions.',
    );
  }
}
