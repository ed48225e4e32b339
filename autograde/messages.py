"""Every sentence a check shows a learner, in each language the course speaks.

The code cells of both editions are identical, so a check cannot learn the language from its
own source: it asks ``language()``, which reads ``COURSE_LANG`` (set by the grader from the
notebook's metadata) or, inside JupyterLab, the notebook path in ``JPY_SESSION_NAME``.
"""

from __future__ import annotations

import os
import re
from pathlib import PurePath

LANGUAGES = ("en", "ko")

TEXTS: dict[str, dict[str, str]] = {
    "failure": {
        "en": "✗ {exercise}: {what}\n    expected: {expected}\n    got:      {got}\n    hint:     {hint}",
        "ko": "✗ {exercise}: {what}\n    기대한 값: {expected}\n    받은 값:   {got}\n    힌트:      {hint}",
    },
    "passed": {
        "en": "✓ {exercise}: all {n} checks passed.",
        "ko": "✓ {exercise}: 검사 {n}개를 모두 통과했습니다.",
    },
    "hidden_passed": {
        "en": "✓ {exercise}: {n} more checks passed.",
        "ko": "✓ {exercise}: 추가 검사 {n}개를 통과했습니다.",
    },
    "warning_note": {
        "en": "  note: your code raised a warning (no points lost): {warning}",
        "ko": "  참고: 코드에서 경고가 나왔습니다(감점 없음): {warning}",
    },
    # A call of learner code that raised: the call, the learner's line, the hint (autograde/call_text.py).
    "calling": {"en": "calling {call}", "ko": "{call} 호출"},
    "calling_with": {"en": "calling {call} with {args}", "ko": "{call} 호출({args})"},
    "arg_shape": {"en": "{name} of shape {shape}", "ko": "{name}: 모양 {shape}"},
    "arg_type": {"en": "{name} of type {kind}", "ko": "{name}: 타입 {kind}"},
    "raised_failure": {
        "en": "✗ {exercise}: {what} raised {error}\n{where}    hint:     {hint}",
        "ko": "✗ {exercise}: {what} 중 오류: {error}\n{where}    힌트:      {hint}",
    },
    "learner_line": {"en": "    in your cell, line {line}: {code}\n", "ko": "    여러분의 셀 {line}번째 줄: {code}\n"},
    "a_result": {"en": "a result", "ko": "오류 없이 반환된 값"},
    "returned": {"en": "no error; it returned {value}", "ko": "오류 없음, 반환한 값: {value}"},
    "shape": {"en": "a tensor of shape {shape}", "ko": "모양이 {shape}인 텐서"},
    "dtype": {"en": "a tensor of dtype {dtype}", "ko": "자료형이 {dtype}인 텐서"},
    "a_pair": {"en": "a tuple or list of two items", "ko": "항목이 두 개인 튜플이나 리스트"},
    "object_of": {"en": "an object of type {kind}", "ko": "{kind} 타입의 객체"},
    # What the grader writes into a cell it stopped, skipped or scored zero (see autograde/kernel.py).
    "grading_timeout": {
        "en": "this cell used more than {seconds} s of processor time and was stopped",
        "ko": "이 셀이 처리 시간을 {seconds}초 넘게 써서 중단했습니다",
    },
    "grading_wall_timeout": {
        "en": "this cell ran longer than {seconds} s (wall clock) and was stopped",
        "ko": "이 셀이 (벽시계 기준) {seconds}초 넘게 실행되어 중단했습니다",
    },
    "grading_hung": {
        "en": "this cell went past its limit ({limit}) and did not stop when interrupted",
        "ko": "이 셀이 제한({limit})을 넘었고 중단 요청에도 멈추지 않았습니다",
    },
    "grading_cpu_seconds": {"en": "{seconds} s of processor time", "ko": "처리 시간 {seconds}초"},
    "grading_wall_seconds": {"en": "{seconds} s wall clock", "ko": "벽시계 {seconds}초"},
    "grading_crashed": {
        "en": "the kernel died while running this cell ({how})",
        "ko": "이 셀을 실행하는 중에 커널이 죽었습니다({how})",
    },
    "grading_protocol": {
        "en": "the grader stopped this cell: its code broke the grading protocol ({detail})",
        "ko": "채점기가 이 셀을 중단했습니다: 코드가 채점 프로토콜을 어겼습니다({detail})",
    },
    "grading_time_limit": {
        "en": "not run: the notebook had used up the {seconds} s of processor time a submission may use",
        "ko": "실행하지 않음: 제출물 하나에 허용된 처리 시간 {seconds}초를 이미 다 썼습니다",
    },
    "grading_wall_limit": {
        "en": "not run: the notebook had run for the {seconds} s (wall clock) a submission may run",
        "ko": "실행하지 않음: 제출물 하나에 허용된 실행 시간(벽시계) {seconds}초가 지났습니다",
    },
    "grading_why_hidden": {"en": "it ended in an error that showed no traceback",
                           "ko": "오류로 끝났지만 트레이스백이 보이지 않았습니다"},
    "grading_why_not_run": {"en": "it did not run", "ko": "실행되지 않았습니다"},
    "grading_why_no_observations": {"en": "its hidden tests reported no observations",
                                    "ko": "숨은 테스트가 관찰 결과를 보고하지 않았습니다"},
    "hidden_error": {
        "en": "✗ {exercise}: the hidden tests could not go on: {error}",
        "ko": "✗ {exercise}: 숨은 테스트를 계속할 수 없었습니다: {error}",
    },
    "hidden_unreadable": {
        "en": "✗ {exercise}: the hidden tests' observations do not match the tests themselves ({why}); "
              "this exercise scores 0",
        "ko": "✗ {exercise}: 숨은 테스트의 관찰 결과가 테스트와 맞지 않습니다({why}). 이 연습 문제는 0점입니다",
    },
    "grading_no_evidence": {
        "en": "This test scores 0: the grader has no evidence that it ran to the end without an error ({why}).",
        "ko": "이 테스트는 0점입니다: 오류 없이 끝까지 실행되었다는 근거가 없습니다({why}).",
    },
    "grading_skipped": {
        "en": "not run again: {reason}",
        "ko": "다시 실행하지 않음: {reason}",
    },
    "grading_poisoned": {
        "en": "This exercise scores 0: {reason}.",
        "ko": "이 연습 문제는 0점입니다: {reason}.",
    },
    "grading_tampered": {
        "en": "the code changed what the tests rely on ({what})",
        "ko": "코드가 테스트에 쓰이는 것을 건드렸습니다({what})",
    },
    "grading_static": {
        "en": "the code {what}",
        "ko": "코드에서 찾은 것: {what}",
    },
    # Words the checks put between values (autograde/checks.py).
    "or": {"en": " or ", "ko": " 또는 "},
    "big_tensor": {"en": "tensor of shape {shape}", "ko": "모양이 {shape}인 텐서"},
}

# Placeholders whose values are English labels written by code (tampering reasons), translated with label().
LABELLED: dict[str, tuple[str, ...]] = {"grading_tampered": ("what",), "grading_static": ("what",)}

GENERIC_HINTS: dict[str, dict[str, str]] = {
    "not_implemented": {
        "en": "Replace `raise NotImplementedError()` in the exercise cell with your code, run that cell, "
        "then run this one again.",
        "ko": "연습 셀의 `raise NotImplementedError()`를 여러분의 코드로 바꾸고 그 셀을 실행한 뒤, "
        "이 셀을 다시 실행하세요.",
    },
    "raised": {
        "en": "Your code raised this error on the input above. Call it the same way in a new cell to see "
        "the whole traceback.",
        "ko": "위 입력에서 코드가 이 오류를 냈습니다. 새 셀에서 같은 방법으로 호출해 보면 트레이스백 전체를 볼 수 "
        "있습니다.",
    },
    "not_finite": {
        "en": "The result holds inf or nan. Large inputs overflow exp(); subtract the largest value first "
        "(torch.logsumexp does this).",
        "ko": "결과에 inf나 nan이 있습니다. 큰 입력에서는 exp()에서 오버플로가 일어납니다. 가장 큰 값을 먼저 빼세요"
        "(torch.logsumexp가 그렇게 합니다).",
    },
    "compare_reference": {
        "en": "Your result differs from the reference on this input; try it yourself in a scratch cell.",
        "ko": "이 입력에서 결과가 참조 구현과 다릅니다. 빈 셀에서 직접 실행해 보세요.",
    },
}

# Per-exercise hints: HINTS[exercise][key][lang]. Test cells name the key.
def _h(en: str, ko: str) -> dict[str, str]:
    return {"en": en, "ko": ko}


HINTS: dict[str, dict[str, dict[str, str]]] = {
    "num_flat_features": {
        "product": _h("Multiply every size in x.shape except the first (x.shape[1:]).",
                      "x.shape에서 첫 번째를 뺀 모든 크기(x.shape[1:])를 곱하세요."),
        "batch": _h("Leave out dimension 0, the batch: the answer must not depend on the batch size.",
                    "0번 차원(배치)은 빼세요. 답은 배치 크기와 무관해야 합니다."),
    },
    "Net": {
        "fc1_in": _h("fc1 receives 16 maps of 6x6 per image: nn.Linear(16 * 6 * 6, 120).",
                     "fc1에는 이미지마다 6x6 맵 16개가 들어옵니다: nn.Linear(16 * 6 * 6, 120)."),
        "forward_shape": _h("forward must return [batch, 10]: flatten with torch.flatten(x, 1) and end with fc3, no ReLU.",
                            "forward()는 [배치, 10] 모양의 텐서를 반환해야 합니다. torch.flatten(x, 1)로 평탄화하고 "
                            "ReLU 없이 fc3로 끝내세요."),
        "final_relu": _h("The network returns raw scores (logits), which may be negative: no ReLU after fc3.",
                         "신경망은 음수일 수도 있는 원시 점수(logit)를 반환합니다. fc3 뒤에는 ReLU를 두지 마세요."),
    },
    "parameter_shapes": {
        "out_in": _h("Use module.named_parameters() and tuple(p.shape); weights are [out, in, ...].",
                     "module.named_parameters()와 tuple(p.shape)를 쓰세요. 가중치의 모양은 [출력, 입력, ...] 순서입니다."),
        "named": _h("Include every parameter that named_parameters() yields, weights and biases.",
                    "named_parameters()가 내놓는 모든 매개변수(가중치와 편향)를 넣으세요."),
    },
    "count_parameters": {
        "numel": _h("Add up p.numel() over the parameters: values, not tensors.",
                    "매개변수마다 p.numel()을 더하세요. 텐서 개수가 아니라 값의 개수입니다."),
        "requires_grad": _h("Count only parameters with p.requires_grad: frozen ones are not learnable.",
                            "p.requires_grad인 매개변수만 세세요. 고정된 것은 학습되지 않습니다."),
    },
    "mse_loss": {
        "mean_all": _h("Square the differences, then take the mean over every element: ((output - target) ** 2).mean().",
                       "차이를 제곱한 뒤 모든 원소에 대해 평균을 내세요: ((output - target) ** 2).mean()."),
        "shape_check": _h("Compare output.shape with target.shape first and raise ValueError if they differ.",
                          "먼저 output.shape와 target.shape를 비교하고, 다르면 ValueError를 일으키세요."),
        "graph": _h("Compute the loss with tensor operations on output and target; .item() or torch.tensor(...) "
                    "cuts it off from the graph, and loss.backward() can no longer reach the network.",
                    "output과 target에 텐서 연산을 써서 손실을 계산하세요. .item()이나 torch.tensor(...)를 쓰면 "
                    "그래프에서 끊겨 loss.backward()가 신경망까지 닿지 못합니다."),
    },
    "l1_loss": {
        "abs": _h("Take the absolute differences, then the mean over every element: (output - target).abs().mean().",
                  "차이의 절댓값을 구한 뒤 모든 원소에 대해 평균을 내세요: (output - target).abs().mean()."),
        "shape_check": _h("Compare output.shape with target.shape first and raise ValueError if they differ.",
                          "먼저 output.shape와 target.shape를 비교하고, 다르면 ValueError를 일으키세요."),
        "graph": _h("Compute the loss with tensor operations on output and target; .item() or torch.tensor(...) "
                    "cuts it off from the graph, and loss.backward() can no longer reach the network.",
                    "output과 target에 텐서 연산을 써서 손실을 계산하세요. .item()이나 torch.tensor(...)를 쓰면 "
                    "그래프에서 끊겨 loss.backward()가 신경망까지 닿지 못합니다."),
    },
    "cross_entropy": {
        "log_softmax": _h("log p = logits - torch.logsumexp(logits, dim=1, keepdim=True); average -log p at each label.",
                          "`log p = logits - torch.logsumexp(logits, dim=1, keepdim=True)`. 각 레이블 위치의 "
                          "`-log p`를 평균 내세요."),
        "shape_check": _h("logits must be [N, C] and labels [N]; raise ValueError otherwise.",
                          "logits는 [N, C], labels는 [N]이어야 합니다. 아니면 ValueError를 일으키세요."),
    },
    "grad_fn_chain": {
        "first_input": _h("Start at tensor.grad_fn; the next node is node.next_functions[0][0].",
                          "tensor.grad_fn에서 시작하세요. 다음 노드는 node.next_functions[0][0]입니다."),
        "depth": _h("Stop once the list holds depth names.", "이름이 depth개 모이면 멈추세요."),
        "leaf": _h("A leaf tensor has grad_fn None: return an empty list.",
                   "말단(leaf) 텐서는 grad_fn이 None입니다. 빈 리스트를 반환하세요."),
    },
    "linear_mse_grads": {
        "pair": _h("Return a tuple (grad_w, grad_b).", "(grad_w, grad_b) 튜플을 반환하세요."),
        "chain_rule": _h("delta = 2 * (x @ w.T + b - y) / number of elements; grad_w = delta.T @ x; grad_b = delta.sum(0).",
                         "`delta = 2 * (x @ w.T + b - y) / 원소 개수`; `grad_w = delta.T @ x`; `grad_b = delta.sum(0)`."),
    },
    "fresh_gradients": {
        "names": _h("Return a dict {name: p.grad.clone()} over model.named_parameters().",
                    "model.named_parameters()로 {이름: p.grad.clone()} 딕셔너리를 반환하세요."),
        "accumulate": _h("backward() adds to .grad: call model.zero_grad() before it.",
                         "backward()는 .grad에 더합니다. 그 전에 model.zero_grad()를 호출하세요."),
        "clone": _h("Return copies, p.grad.clone(): p.grad itself belongs to the model and changes with the next "
                    "backward().",
                    "복사본 p.grad.clone()을 반환하세요. p.grad 자체는 모델의 것이라 다음 backward()에서 바뀝니다."),
    },
    "sgd_step": {
        "in_place": _h("Update each tensor in place, p -= lr * p.grad; p = p - ... only rebinds a name.",
                       "각 텐서를 제자리에서 바꾸세요: `p -= lr * p.grad`. `p = p - ...`는 이름만 다시 묶습니다."),
        "no_grad": _h("Do the update inside `with torch.no_grad():` so autograd does not record it.",
                      "autograd가 기록하지 않도록 `with torch.no_grad():` 안에서 갱신하세요."),
        "none_grad": _h("A parameter that took no part in the loss has p.grad None: skip it (if p.grad is not None).",
                        "손실 계산에 쓰이지 않은 매개변수는 p.grad가 None입니다. 그런 매개변수는 건너뛰세요"
                        "(`if p.grad is not None`)."),
    },
    "train_steps": {
        "floats": _h("Append loss.item() each step and return the list.",
                     "단계마다 loss.item()을 리스트에 추가하고 그 리스트를 반환하세요."),
        "zero_grad": _h("Each step: optimizer.zero_grad(), forward, loss, loss.backward(), optimizer.step().",
                        "단계마다: optimizer.zero_grad(), 순전파, 손실, loss.backward(), optimizer.step()."),
    },
    "conv2d_output_size": {
        "floor": _h("(n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1",
                    "`(n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1`"),
        "padding": _h("Padding adds `padding` on both sides: n + 2 * padding.",
                      "패딩은 양쪽에 더해집니다: n + 2 * padding."),
        "dilation": _h("A dilated kernel spans dilation * (kernel_size - 1) + 1 pixels.",
                       "팽창(dilation)된 커널은 `dilation * (kernel_size - 1) + 1` 픽셀에 걸칩니다."),
        "int": _h("A size is a whole number: use floor division //, not /, and return an int.",
                  "크기는 정수입니다. /가 아니라 몫 나눗셈 //를 쓰고 int를 반환하세요."),
    },
    "pool2d_output_size": {
        "stride_default": _h("stride=None means stride = kernel_size.", "`stride=None`이면 `stride = kernel_size`입니다."),
        "floor": _h("Without ceil_mode: (n + 2 * padding - kernel_size) // stride + 1.",
                    "ceil_mode가 아니면 `(n + 2 * padding - kernel_size) // stride + 1`입니다."),
        "ceil": _h("With ceil_mode, round up; then drop a last window that starts at or past n + padding.",
                   "ceil_mode면 올림하고, n + padding 이후에서 시작하는 마지막 창은 버리세요."),
    },
    "trace_shapes": {
        "leaf_hooks": _h("Hook every module in named_modules() that has no children, and record tuple(output.shape).",
                         "named_modules()에서 자식이 없는 모듈마다 hook을 걸고 tuple(output.shape)를 기록하세요."),
        "remove_hooks": _h("Keep each handle from register_forward_hook and call handle.remove() in a finally block.",
                           "register_forward_hook이 돌려준 핸들을 모아 `finally` 블록에서 handle.remove()를 "
                           "호출하세요."),
    },
    "Net28": {
        "fc1_in": _h("A 28x28 input leaves 16 maps of 5x5: fc1 = nn.Linear(16 * 5 * 5, 120).",
                     "28x28 입력은 5x5 맵 16개가 됩니다: fc1 = nn.Linear(16 * 5 * 5, 120)."),
    },
    "make_digit_tensors": {
        "pair": _h("Return a tuple (x, y): the images tensor first, then the labels.",
                   "(x, y) 튜플을 반환하세요. 이미지 텐서가 먼저, 레이블이 다음입니다."),
        "dtypes": _h("x must be float32 (torch.as_tensor(images, dtype=torch.float32)); y must be int64 "
                     "(dtype=torch.long), the type CrossEntropyLoss expects for class labels.",
                     "x는 float32(torch.as_tensor(images, dtype=torch.float32)), y는 int64(dtype=torch.long)"
                     "여야 합니다. CrossEntropyLoss는 클래스 레이블로 int64를 받습니다."),
        "shape": _h("x must be [N, 1, 32, 32]: reshape to [N, 1, 8, 8] first (F.interpolate resizes the last "
                    "two dimensions), then resize to size=(32, 32).",
                    "x는 [N, 1, 32, 32]여야 합니다. 먼저 [N, 1, 8, 8]로 바꾸고(F.interpolate는 마지막 두 차원을 "
                    "바꿉니다) size=(32, 32)로 키우세요."),
        "scale16": _h("Divide by 16, the largest value the digits can take, not by the largest value in this batch.",
                      "이 배치의 최댓값이 아니라, 숫자 이미지가 가질 수 있는 최댓값 16으로 나누세요."),
        "interpolate": _h("Divide by 16, then F.interpolate(x, size=(32, 32), mode=\"bilinear\", align_corners=False).",
                          "16으로 나눈 뒤 F.interpolate(x, size=(32, 32), mode=\"bilinear\", align_corners=False)를 "
                          "쓰세요."),
        "labels": _h("y holds the labels unchanged, in the same order: torch.as_tensor(labels, dtype=torch.long).",
                     "y에는 레이블을 같은 순서 그대로 담으세요: torch.as_tensor(labels, dtype=torch.long)."),
    },
    "train_one_epoch": {
        "float": _h("Return a Python float: add up loss.item() values, not loss tensors.",
                    "Python float를 반환하세요. 손실 텐서가 아니라 loss.item() 값을 더하세요."),
        "train_mode": _h("Call model.train() first: evaluate() may leave the model in eval mode, and layers such as "
                         "dropout behave differently there.",
                         "먼저 model.train()을 호출하세요. evaluate()가 모델을 평가 모드로 바꿔 놓았을 수 있고, "
                         "드롭아웃 같은 계층은 그 모드에서 다르게 동작합니다."),
        "device": _h("Move each batch to the device before using it: x, y = x.to(device), y.to(device).",
                     "배치를 쓰기 전에 장치로 옮기세요: x, y = x.to(device), y.to(device)."),
        "step": _h("For each batch: x, y = x.to(device), y.to(device); optimizer.zero_grad(); "
                   "loss = criterion(model(x), y); loss.backward(); optimizer.step(). Use the criterion passed in.",
                   "배치마다 `x, y = x.to(device), y.to(device); optimizer.zero_grad(); "
                   "loss = criterion(model(x), y); loss.backward(); optimizer.step()`을 실행하세요. 인자로 받은 "
                   "criterion을 쓰세요."),
        "weighted": _h("The mean per sample: add loss.item() * len(y) for each batch, then divide by the number "
                       "of samples (the last batch may be smaller).",
                       "샘플당 평균입니다. 배치마다 loss.item() * len(y)를 더한 뒤 전체 샘플 수로 나누세요"
                       "(마지막 배치는 더 작을 수 있습니다)."),
    },
    "evaluate": {
        "float": _h("Return a Python float: turn counts into ints with .item() before dividing.",
                    "Python float를 반환하세요. 나누기 전에 .item()으로 개수를 int로 바꾸세요."),
        "fraction": _h("Return a fraction between 0 and 1 (correct / total), not a percentage.",
                       "백분율이 아니라 0과 1 사이의 비율(맞힌 수 / 전체 수)을 반환하세요."),
        "count": _h("Count correct predictions, (model(x).argmax(dim=1) == y).sum(), over all batches, then divide "
                    "by the total number of samples, not by the number of batches.",
                    "모든 배치에서 맞힌 예측 (model(x).argmax(dim=1) == y).sum()을 센 뒤, 배치 수가 아니라 "
                    "전체 샘플 수로 나누세요."),
        "eval": _h("Call model.eval() before the loop, so layers such as dropout switch to inference behaviour.",
                   "반복문 전에 model.eval()을 호출해 드롭아웃 같은 계층을 추론 동작으로 바꾸세요."),
        "no_grad": _h("Run the loop inside `with torch.no_grad():`: no gradients are needed to evaluate.",
                      "`with torch.no_grad():` 안에서 반복하세요. 평가에는 변화도가 필요 없습니다."),
        "device": _h("Move each batch to the device before using it: x, y = x.to(device), y.to(device).",
                     "배치를 쓰기 전에 장치로 옮기세요: x, y = x.to(device), y.to(device)."),
    },
}


# -- Large tensors, hints for known mistakes and for errors learner code raises -----------------
# (autograde/checks.py: ``tensor_difference``, ``mistakes=`` on equal/close, ``error_hints=`` on call)
TEXTS.update({
    "tensor_shape_dtype": {"en": "a tensor of shape {shape}, dtype {dtype}",
                           "ko": "모양이 {shape}이고 자료형이 {dtype}인 텐서"},
    "tensor_around": {"en": "; at {where}: {values}", "ko": "; {where} 위치의 값: {values}"},
    "largest_difference": {"en": "largest difference: {difference} at index {index}",
                           "ko": "가장 큰 차이: 인덱스 {index}에서 {difference}"},
})

_MORE_HINTS: dict[str, dict[str, dict[str, str]]] = {
    "sgd_step": {
        "step": _h("Each parameter that has a gradient must become p - lr * p.grad, the value optim.SGD gives.",
                   "변화도가 있는 매개변수는 모두 optim.SGD가 내는 값, 곧 p - lr * p.grad가 되어야 합니다."),
        "sign": _h("Step against the gradient: p -= lr * p.grad. Adding it (p += ...) moves the parameters the way "
                   "that makes the loss grow.",
                   "변화도의 반대 방향으로 움직이세요: p -= lr * p.grad. 더하면(p += ...) 손실이 커지는 쪽으로 "
                   "매개변수가 움직입니다."),
        "lr": _h("Scale the gradient by the learning rate: p -= lr * p.grad, not p -= p.grad.",
                 "변화도에 학습률을 곱하세요: p -= p.grad가 아니라 p -= lr * p.grad입니다."),
        "leaf_in_place": _h("PyTorch refuses to change a parameter that requires grad in place while autograd "
                            "records: do the update inside `with torch.no_grad():`.",
                            "autograd가 기록하는 동안에는 requires_grad인 매개변수를 제자리에서 바꿀 수 없습니다. "
                            "`with torch.no_grad():` 안에서 갱신하세요."),
    },
    "trace_shapes": {
        "late_binding": _h("Every record has the last layer's name: a lambda made in a loop looks `name` up when it "
                           "runs, after the loop has ended. Bind the name when the hook is made: "
                           "lambda module, inputs, output, name=name: ...",
                           "모든 기록에 마지막 계층의 이름이 붙었습니다. 반복문 안에서 만든 `lambda`는 `name`을 "
                           "실행될 때, 즉 반복문이 다 끝난 뒤에 찾아봅니다. hook을 만들 때 이름을 묶어 두세요: "
                           "`lambda module, inputs, output, name=name: ...`"),
    },
    "Net28": {
        "forward_shape": _h("forward must return [batch, 10]: the same steps as Net's forward (torch.flatten(x, 1), "
                            "then fc1, fc2 and fc3, no ReLU after fc3); only fc1's input size changes.",
                            "forward()는 [배치, 10] 모양의 텐서를 반환해야 합니다. `Net`의 forward()와 같은 단계"
                            "(torch.flatten(x, 1) 뒤 fc1, fc2, fc3, fc3 뒤에는 ReLU 없음)를 거치고, "
                            "바뀌는 것은 fc1의 입력 크기뿐입니다."),
    },
    "conv2d_output_size": {
        "round_down": _h("A window that does not fit is dropped, so the size rounds down: use floor division //. "
                         "round() and math.ceil() round some sizes up.",
                         "다 들어가지 않는 창은 버려지므로 크기는 내림합니다. 몫 나눗셈 //를 쓰세요. "
                         "round()와 math.ceil()은 어떤 크기는 올림합니다."),
    },
}
for _exercise, _hints in _MORE_HINTS.items():
    HINTS.setdefault(_exercise, {}).update(_hints)


def language() -> str:
    """The learner's language: COURSE_LANG, else the notebook's file name, else English."""
    lang = os.environ.get("COURSE_LANG", "").strip().lower()
    if lang in LANGUAGES:
        return lang
    session = PurePath(os.environ.get("JPY_SESSION_NAME", ""))
    if session.name.endswith(".ko.ipynb") or "ko" in session.parts[:-1]:
        return "ko"
    return "en"


def _pick(options: dict[str, str], lang: str) -> str:
    return options.get(lang) or options["en"]


def text(lang: str, key: str, **values: object) -> str:
    """A fixed sentence in ``lang``, filled with ``values`` (those named in ``LABELLED`` translated first)."""
    for name in LABELLED.get(key, ()):
        if isinstance(values.get(name), str):
            values[name] = label(lang, values[name], lists=True)
    return _pick(TEXTS[key], lang).format(**values)


def hint(lang: str, exercise: str, key: str | None) -> str:
    """The hint for ``key``: an exercise hint, a generic one, or ``key`` itself as plain text."""
    if key is None:
        key = "compare_reference"
    options = HINTS.get(exercise, {}).get(key) or GENERIC_HINTS.get(key)
    return _pick(options, lang) if options else key


def failure(lang: str, **values: object) -> str:
    """The full failure message."""
    return text(lang, "failure", **values)


# -- labels: what a check says it checked ------------------------------------------------------
_PATTERNS: list[tuple[re.Pattern[str], str]] | None = None


def _patterns() -> list[tuple[re.Pattern[str], str]]:
    """The catalogue's labels with values as regular expressions, in the order they are tried.

    A label that ends in fixed text comes first (``"{}: the values of x"`` around a label of its own,
    ``"5 random images with values 0..16"``), then the longest fixed text first.
    """
    global _PATTERNS
    if _PATTERNS is None:
        from autograde.labels import KO

        templates = sorted((k for k in KO if "{}" in k), key=lambda k: (k.endswith("{}"), -len(k.replace("{}", ""))))
        _PATTERNS = [(re.compile("(.+?)".join(re.escape(part) for part in k.split("{}")), re.S), KO[k])
                     for k in templates]
    return _PATTERNS


def label(lang: str, what: str, lists: bool = False) -> str:
    """A label the code wrote in English (``"the values of x"``), in ``lang``: see ``autograde/labels.py``.

    A label is looked up whole, then as a template whose values are translated in turn. With
    ``lists``, ``what`` is a list of labels (``"imports solutions; replaces sys.stdout"``, as the
    tampering reasons come), translated item by item.
    What the catalogue does not know, such as a label that is only code, is shown as written.
    """
    if lang != "ko" or not what:
        return what
    from autograde.labels import KO

    if lists:
        return "; ".join(", ".join(label(lang, item) for item in part.split(", ")) for part in what.split("; "))
    if what in KO:
        return KO[what]
    for pattern, korean in _patterns():
        match = pattern.fullmatch(what)
        if match:
            return korean.format(*(label(lang, value) for value in match.groups()))
    return what
