import { CfnOutput, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

export interface XksVpcEndpointServiceProps {
  /** The fleet's internal NLB. */
  readonly loadBalancer: elbv2.INetworkLoadBalancer;
  /**
   * The private DNS name KMS connects to (XksProxyUriEndpoint is https://<this>). The
   * proxy's TLS certificate must name it, from a public CA.
   */
  readonly privateDnsName: string;
  /**
   * The public hosted zone of that name's domain. When given, the TXT record that proves
   * domain ownership is created and verification started; otherwise the record's name and
   * value are stack outputs to create by hand.
   */
  readonly publicHostedZone?: route53.IPublicHostedZone;
}

/**
 * The VPC endpoint service KMS connects through (XksProxyConnectivity VPC_ENDPOINT_SERVICE):
 * no acceptance step, only KMS's service principal for this Region allowed, and the
 * private DNS name the proxy's certificate carries.
 */
export class XksVpcEndpointService extends Construct {
  readonly endpointService: ec2.VpcEndpointService;
  /** com.amazonaws.vpce.<region>.vpce-svc-... (XksProxyVpcEndpointServiceName). */
  readonly serviceName: string;
  /** https://<private DNS name> (XksProxyUriEndpoint). */
  readonly uriEndpoint: string;
  readonly privateDnsName: string;

  constructor(scope: Construct, id: string, props: XksVpcEndpointServiceProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    this.privateDnsName = props.privateDnsName;
    this.endpointService = new ec2.VpcEndpointService(this, 'Service', {
      vpcEndpointServiceLoadBalancers: [props.loadBalancer],
      acceptanceRequired: false,
      // KMS's own principal in this Region; nobody else may create endpoints to the proxies.
      allowedPrincipals: [new iam.ArnPrincipal(`cks.kms.${region}.amazonaws.com`)],
    });
    this.serviceName = this.endpointService.vpcEndpointServiceName;
    this.uriEndpoint = `https://${props.privateDnsName}`;

    if (props.publicHostedZone !== undefined) {
      // Sets the private DNS name, writes the TXT record, starts verification.
      const domainName = new route53.VpcEndpointServiceDomainName(this, 'DomainName', {
        endpointService: this.endpointService,
        domainName: props.privateDnsName,
        publicHostedZone: props.publicHostedZone,
      });
      Validations.of(domainName).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'aws-cdk-lib VpcEndpointServiceDomainName calls the EC2 endpoint-service APIs with Resource "*" (not configurable); the Describe calls support no resource-level permissions.',
      });
    } else {
      const serviceId = this.endpointService.vpcEndpointServiceId;
      const setName = new cr.AwsCustomResource(this, 'PrivateDnsName', {
        onCreate: {
          service: 'EC2',
          action: 'modifyVpcEndpointServiceConfiguration',
          parameters: { ServiceId: serviceId, PrivateDnsName: props.privateDnsName },
          physicalResourceId: cr.PhysicalResourceId.of(`${props.privateDnsName}`),
        },
        onUpdate: {
          service: 'EC2',
          action: 'modifyVpcEndpointServiceConfiguration',
          parameters: { ServiceId: serviceId, PrivateDnsName: props.privateDnsName },
          physicalResourceId: cr.PhysicalResourceId.of(`${props.privateDnsName}`),
        },
        onDelete: {
          service: 'EC2',
          action: 'modifyVpcEndpointServiceConfiguration',
          parameters: { ServiceId: serviceId, RemovePrivateDnsName: true },
        },
        policy: cr.AwsCustomResourcePolicy.fromStatements([
          new iam.PolicyStatement({
            actions: ['ec2:ModifyVpcEndpointServiceConfiguration'],
            resources: [Stack.of(this).formatArn({ service: 'ec2', resource: 'vpc-endpoint-service', resourceName: serviceId })],
          }),
        ]),
        installLatestAwsSdk: false,
      });
      const verification = new cr.AwsCustomResource(this, 'VerificationRecord', {
        onUpdate: {
          service: 'EC2',
          action: 'describeVpcEndpointServiceConfigurations',
          parameters: { ServiceIds: [serviceId] },
          physicalResourceId: cr.PhysicalResourceId.of(`${props.privateDnsName}-verification`),
          outputPaths: ['ServiceConfigurations.0.PrivateDnsNameConfiguration.Name', 'ServiceConfigurations.0.PrivateDnsNameConfiguration.Value'],
        },
        policy: cr.AwsCustomResourcePolicy.fromStatements([
          new iam.PolicyStatement({
            actions: ['ec2:DescribeVpcEndpointServiceConfigurations'],
            resources: ['*'],
          }),
        ]),
        installLatestAwsSdk: false,
      });
      verification.node.addDependency(setName);
      Validations.of(verification).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'ec2:DescribeVpcEndpointServiceConfigurations supports no resource-level permissions.',
      });
      new CfnOutput(this, 'VerificationTxtRecordName', {
        description: `Domain verification name: create a TXT record of this name in the public DNS zone of ${props.privateDnsName}'s domain, then aws ec2 start-vpc-endpoint-service-private-dns-verification`,
        value: verification.getResponseField('ServiceConfigurations.0.PrivateDnsNameConfiguration.Name'),
      });
      new CfnOutput(this, 'VerificationTxtRecordValue', {
        description: 'The value of that TXT record',
        value: verification.getResponseField('ServiceConfigurations.0.PrivateDnsNameConfiguration.Value'),
      });
    }
    // The Lambda function CDK shares between AwsCustomResources in a stack.
    const singleton = Stack.of(this).node.tryFindChild('AWS679f53fac002430cb0da5b7982bd2287');
    if (singleton !== undefined) {
      Validations.of(singleton).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'The AwsCustomResource Lambda that aws-cdk-lib provides uses the AWS managed basic execution role (logs only); it has no role option.',
      });
    }
    new CfnOutput(this, 'EndpointServiceName', { description: 'XksProxyVpcEndpointServiceName', value: this.serviceName });
  }
}
