# The v1 API: every /v1/... request is signed with a site user's IAM key
# (AWS_IAM authorization) and proxied to the api function.

data "aws_region" "current" {}

resource "aws_api_gateway_rest_api" "api" {
  name = "${var.name}-api"
  endpoint_configuration {
    types = ["REGIONAL"]
  }
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_resource" "v1" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_rest_api.api.root_resource_id
  path_part   = "v1"
}

resource "aws_api_gateway_resource" "proxy" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "{proxy+}"
}

resource "aws_api_gateway_method" "proxy" {
  #checkov:skip=CKV2_AWS_53:The api function validates every request against its OpenAPI models and answers what is wrong; AWS_IAM has already checked the signature.
  rest_api_id   = aws_api_gateway_rest_api.api.id
  resource_id   = aws_api_gateway_resource.proxy.id
  http_method   = "ANY"
  authorization = "AWS_IAM"
}

resource "aws_api_gateway_integration" "proxy" {
  rest_api_id             = aws_api_gateway_rest_api.api.id
  resource_id             = aws_api_gateway_resource.proxy.id
  http_method             = aws_api_gateway_method.proxy.http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = var.invoke_arn
}

resource "aws_api_gateway_deployment" "api" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  triggers = {
    redeployment = sha1(jsonencode([
      aws_api_gateway_resource.proxy.id,
      aws_api_gateway_method.proxy.id,
      aws_api_gateway_integration.proxy.id,
    ]))
  }
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/yarracloud/${var.name}/api-access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "apigateway_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "apigateway_logs" {
  count              = var.account_logging_role ? 1 : 0
  name               = "${var.name}-${data.aws_region.current.name}-apigw-logs"
  assume_role_policy = data.aws_iam_policy_document.apigateway_assume.json
}

resource "aws_iam_role_policy_attachment" "apigateway_logs" {
  count      = var.account_logging_role ? 1 : 0
  role       = aws_iam_role.apigateway_logs[0].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "region" {
  count               = var.account_logging_role ? 1 : 0
  cloudwatch_role_arn = aws_iam_role.apigateway_logs[0].arn
}

resource "aws_api_gateway_stage" "live" {
  #checkov:skip=CKV_AWS_120:Every response depends on the signed caller and the task's current state; a cache would serve one user's or a stale answer.
  #checkov:skip=CKV2_AWS_51:Callers authenticate with SigV4 (AWS_IAM); client certificates are for backends that authenticate API Gateway, which the Lambda proxy integration does not need.
  #checkov:skip=CKV2_AWS_29:Only SigV4-signed calls from IAM users of the site-user group pass AWS_IAM authorization; a WAF would filter nothing they cannot already be refused by.
  rest_api_id          = aws_api_gateway_rest_api.api.id
  deployment_id        = aws_api_gateway_deployment.api.id
  stage_name           = var.stage
  xray_tracing_enabled = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId = "$context.requestId", user = "$context.identity.userArn",
      path      = "$context.path", status = "$context.status",
      latencyMs = "$context.responseLatency", error = "$context.error.message"
    })
  }

  depends_on = [aws_api_gateway_account.region]
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:Every response depends on the signed caller and the task's current state; a cache would serve one user's or a stale answer.
  rest_api_id = aws_api_gateway_rest_api.api.id
  stage_name  = aws_api_gateway_stage.live.stage_name
  method_path = "*/*"
  settings {
    metrics_enabled        = true
    logging_level          = "ERROR"
    throttling_burst_limit = 200
    throttling_rate_limit  = 100
  }
}

resource "aws_lambda_permission" "api" {
  statement_id  = "api-gateway"
  action        = "lambda:InvokeFunction"
  function_name = var.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.api.execution_arn}/*/*/v1/*"
}
