/** Post-training quantization in one call: plan, weight method, calibration recipe and data in; network and report out. */
package io.github.dsconv.ptq;
